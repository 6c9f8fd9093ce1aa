-- The AR subledger: invoices, payments and their applications, and the append-only
-- ledger of every balance change. Balances cached on invoices and payments are kept in
-- the same transaction as the entries that move them; the entries are the truth.

CREATE TABLE invoices (
    id           UUID PRIMARY KEY,
    number       TEXT NOT NULL UNIQUE,
    external_id  TEXT UNIQUE,
    customer_id  UUID NOT NULL REFERENCES customers (id),
    kind         TEXT NOT NULL CHECK (kind IN ('invoice', 'nsf_fee')),
    issue_date   DATE NOT NULL,
    due_date     DATE NOT NULL CHECK (due_date >= issue_date),
    amount       NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency     CHAR(3) NOT NULL,
    po_number    TEXT,
    project      TEXT,
    status       TEXT NOT NULL CHECK (status IN ('open', 'partially_paid', 'paid', 'disputed', 'written_off', 'void')),
    open_balance NUMERIC(19, 4) NOT NULL CHECK (open_balance >= 0),
    -- What was billed (issue, fees, positive adjustments, recoveries): "partially paid"
    -- means the open balance is below it.
    charged      NUMERIC(19, 4) NOT NULL CHECK (charged >= 0),
    written_off  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
-- Balance updates touch no indexed column; free space on each page lets PostgreSQL
-- make them heap-only (HOT), with no index writes.
) WITH (fillfactor = 85);
CREATE INDEX invoices_customer_idx ON invoices (customer_id, due_date, id);
CREATE INDEX invoices_due_idx ON invoices (due_date, id);

CREATE TABLE payments (
    id            UUID PRIMARY KEY,
    external_id   TEXT UNIQUE,
    customer_id   UUID NOT NULL REFERENCES customers (id),
    received_on   DATE NOT NULL,
    amount        NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency      CHAR(3) NOT NULL,
    method        TEXT NOT NULL CHECK (method IN ('check', 'ach', 'wire', 'card', 'cash')),
    reference     TEXT,
    status        TEXT NOT NULL CHECK (status IN ('posted', 'returned', 'refunded')),
    unapplied     NUMERIC(19, 4) NOT NULL CHECK (unapplied >= 0),
    refunded      NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    returned_at   TIMESTAMPTZ,
    return_reason TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
) WITH (fillfactor = 85);
CREATE INDEX payments_customer_idx ON payments (customer_id, received_on, id);
CREATE INDEX payments_received_idx ON payments (received_on, id);

-- Foreign keys of the rows written together with a payment are checked at commit, so
-- the statements of one operation can be sent pipelined in any order.
CREATE TABLE payment_applications (
    id          UUID PRIMARY KEY,
    payment_id  UUID NOT NULL REFERENCES payments (id) DEFERRABLE INITIALLY DEFERRED,
    invoice_id  UUID NOT NULL REFERENCES invoices (id) DEFERRABLE INITIALLY DEFERRED,
    amount      NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    applied_at  TIMESTAMPTZ NOT NULL,
    reversed_at TIMESTAMPTZ
);
CREATE INDEX payment_applications_payment_idx ON payment_applications (payment_id);
CREATE INDEX payment_applications_invoice_idx ON payment_applications (invoice_id);

CREATE TABLE ledger_entries (
    id           UUID PRIMARY KEY,
    -- Posting order; as-of queries and statements read entries in it. Unique by
    -- construction (a sequence), so no index of its own: every posting pays for each.
    seq          BIGSERIAL NOT NULL,
    customer_id  UUID NOT NULL REFERENCES customers (id),
    -- NULL for the customer's unapplied cash (money on account, not yet on an invoice).
    invoice_id   UUID REFERENCES invoices (id) DEFERRABLE INITIALLY DEFERRED,
    payment_id   UUID REFERENCES payments (id) DEFERRABLE INITIALLY DEFERRED,
    kind         TEXT NOT NULL CHECK (kind IN (
        'invoice_issued', 'invoice_voided', 'payment_received', 'payment_applied',
        'payment_returned', 'refund', 'credit_memo', 'adjustment', 'write_off',
        'write_off_recovery', 'nsf_fee', 'late_fee')),
    -- Signed: positive raises what the customer owes, negative lowers it.
    amount       NUMERIC(19, 4) NOT NULL CHECK (amount <> 0),
    currency     CHAR(3) NOT NULL,
    effective_on DATE NOT NULL,
    posted_at    TIMESTAMPTZ NOT NULL,
    -- The credit memo, adjustment, write-off or deduction the entry belongs to.
    document_id  UUID,
    memo         TEXT,
    actor_kind   TEXT NOT NULL,
    actor_id     UUID
);
CREATE INDEX ledger_entries_invoice_idx ON ledger_entries (invoice_id, seq);
CREATE INDEX ledger_entries_customer_idx ON ledger_entries (customer_id, effective_on, seq);

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();

CREATE TABLE credit_memos (
    id          UUID PRIMARY KEY,
    invoice_id  UUID NOT NULL REFERENCES invoices (id),
    customer_id UUID NOT NULL REFERENCES customers (id),
    amount      NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency    CHAR(3) NOT NULL,
    reason      TEXT NOT NULL,
    deduction_id UUID,
    created_by  UUID,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE adjustments (
    id          UUID PRIMARY KEY,
    invoice_id  UUID NOT NULL REFERENCES invoices (id),
    customer_id UUID NOT NULL REFERENCES customers (id),
    amount      NUMERIC(19, 4) NOT NULL CHECK (amount <> 0),
    currency    CHAR(3) NOT NULL,
    reason      TEXT NOT NULL,
    created_by  UUID,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE deductions (
    id             UUID PRIMARY KEY,
    payment_id     UUID NOT NULL REFERENCES payments (id),
    invoice_id     UUID NOT NULL REFERENCES invoices (id),
    customer_id    UUID NOT NULL REFERENCES customers (id),
    amount         NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency       CHAR(3) NOT NULL,
    reason_code    TEXT NOT NULL CHECK (reason_code IN (
        'pricing', 'quantity', 'damaged', 'not_received', 'promotion', 'freight', 'tax', 'other')),
    status         TEXT NOT NULL CHECK (status IN ('open', 'resolved_valid', 'resolved_invalid')),
    follow_up      TEXT CHECK (follow_up IN ('rebill', 'chase')),
    note           TEXT,
    credit_memo_id UUID REFERENCES credit_memos (id),
    resolved_by    UUID,
    resolved_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX deductions_customer_idx ON deductions (customer_id, created_at);

CREATE TABLE write_offs (
    id               UUID PRIMARY KEY,
    invoice_id       UUID NOT NULL REFERENCES invoices (id),
    customer_id      UUID NOT NULL REFERENCES customers (id),
    amount           NUMERIC(19, 4) NOT NULL CHECK (amount > 0),
    currency         CHAR(3) NOT NULL,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending_approval', 'posted')),
    requested_by     UUID,
    approved_by      UUID,
    posted_at        TIMESTAMPTZ,
    recovered_amount NUMERIC(19, 4) NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX write_offs_customer_idx ON write_offs (customer_id, created_at);

CREATE TABLE gl_balances (
    id         UUID PRIMARY KEY,
    as_of      DATE NOT NULL,
    currency   CHAR(3) NOT NULL,
    -- The general ledger's AR control account balance at the end of `as_of`.
    amount     NUMERIC(19, 4) NOT NULL,
    source     TEXT NOT NULL,
    note       TEXT,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX gl_balances_lookup_idx ON gl_balances (currency, as_of, created_at);

-- Idempotency of money-moving POSTs: the first response, stored with the effect.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    BYTEA NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Returned payments (NSF / ACH returns) flag the customer.
ALTER TABLE customers ADD COLUMN returned_payments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN last_payment_returned_at TIMESTAMPTZ;

-- Follow-ups for people. The ledger creates them (a returned payment); the worklist
-- issue adds their routes and the other makers (activities, promises, plans).
CREATE TABLE tasks (
    id          UUID PRIMARY KEY,
    customer_id UUID NOT NULL REFERENCES customers (id),
    assignee_id UUID REFERENCES users (id),
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    due_on      DATE NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'done', 'cancelled')),
    source_type TEXT,
    source_id   UUID,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id, status, due_on);
CREATE INDEX tasks_customer_idx ON tasks (customer_id, due_on);
