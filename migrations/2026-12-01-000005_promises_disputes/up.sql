-- Promises to pay: an amount by a date (plus grace) against named invoices, decided by
-- the worker from the payments actually applied to those invoices.
CREATE TABLE promises (
    id            UUID PRIMARY KEY,
    customer_id   UUID NOT NULL REFERENCES customers (id),
    amount        NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency      CHAR(3) NOT NULL,
    -- The business day it was made: payments received from then on count.
    made_on       DATE NOT NULL,
    promised_on   DATE NOT NULL CHECK (promised_on >= made_on),
    grace_days    INTEGER NOT NULL CHECK (grace_days BETWEEN 0 AND 30),
    status        TEXT NOT NULL CHECK (status IN ('open', 'kept', 'partially_kept', 'broken', 'cancelled')),
    -- What counted at the last evaluation.
    paid          NUMERIC(19, 4) NOT NULL DEFAULT 0,
    decided_at    TIMESTAMPTZ,
    contact_id    UUID REFERENCES contacts (id),
    note          TEXT,
    cancel_reason TEXT,
    created_by    UUID,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX promises_customer_idx ON promises (customer_id, created_at);
-- The daily evaluation looks for open promises whose date has passed.
CREATE INDEX promises_open_idx ON promises (promised_on) WHERE status = 'open';

CREATE TABLE promise_invoices (
    promise_id UUID NOT NULL REFERENCES promises (id),
    invoice_id UUID NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (promise_id, invoice_id)
);
CREATE INDEX promise_invoices_invoice_idx ON promise_invoices (invoice_id);

-- Disputes: part or all of some invoices contested by the customer. Disputed amounts
-- leave the collectible balance until resolved.
CREATE TABLE disputes (
    id               UUID PRIMARY KEY,
    customer_id      UUID NOT NULL REFERENCES customers (id),
    amount           NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency         CHAR(3) NOT NULL,
    reason_code      TEXT NOT NULL CHECK (reason_code IN (
        'pricing', 'quantity', 'damaged', 'not_received', 'service', 'tax',
        'duplicate_billing', 'other')),
    status           TEXT NOT NULL CHECK (status IN (
        'open', 'investigating', 'resolved_valid', 'resolved_invalid', 'withdrawn')),
    description      TEXT NOT NULL DEFAULT '',
    owner_id         UUID REFERENCES users (id),
    due_on           DATE NOT NULL,
    root_cause       TEXT,
    resolution_note  TEXT,
    -- The credit granted when resolved valid.
    credited         NUMERIC(19, 4),
    resolved_by      UUID,
    resolved_at      TIMESTAMPTZ,
    created_by       UUID,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX disputes_customer_idx ON disputes (customer_id, created_at);
CREATE INDEX disputes_active_due_idx ON disputes (due_on) WHERE status IN ('open', 'investigating');

CREATE TABLE dispute_invoices (
    dispute_id UUID NOT NULL REFERENCES disputes (id),
    invoice_id UUID NOT NULL REFERENCES invoices (id),
    amount     NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (dispute_id, invoice_id)
);
CREATE INDEX dispute_invoices_invoice_idx ON dispute_invoices (invoice_id);

ALTER TABLE credit_memos ADD COLUMN dispute_id UUID REFERENCES disputes (id);

-- One row per scheduled occurrence: the first worker to insert it runs it, so two
-- worker processes never run the same occurrence twice.
CREATE TABLE schedule_runs (
    schedule    TEXT NOT NULL,
    occurrence  DATE NOT NULL,
    job_id      UUID NOT NULL REFERENCES jobs (id),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (schedule, occurrence)
);

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'import', 'promise_evaluation', 'installment_tracking', 'aging_snapshot',
    'dispute_follow_up', 'idempotency_purge'));

ALTER TABLE activities DROP CONSTRAINT activities_outcome_check;
ALTER TABLE activities ADD CONSTRAINT activities_outcome_check CHECK (outcome IN (
    'no_answer', 'left_message', 'promised', 'disputed', 'refused',
    'wrong_number', 'paid', 'callback_requested', 'reached',
    'sent', 'bounced', 'promise_broken', 'promise_kept', 'promise_partially_kept',
    'installment_missed', 'plan_defaulted', 'other'));
