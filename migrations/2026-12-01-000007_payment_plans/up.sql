-- Payment plans: a schedule of installments agreed with a customer for some of their
-- invoices. Payments applied to those invoices are allocated to the installments
-- oldest first; the worker moves installments and plans along.
CREATE TABLE payment_plans (
    id                      UUID PRIMARY KEY,
    customer_id             UUID NOT NULL REFERENCES customers (id),
    currency                CHAR(3) NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN (
        'proposed', 'approved', 'active', 'completed', 'defaulted', 'cancelled')),
    -- The balance covered, the fee and interest on top, and their sum (= Σ installments).
    total                   NUMERIC(19, 4) NOT NULL CHECK (total > 0),
    fee                     NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (fee >= 0),
    interest                NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (interest >= 0),
    total_payable           NUMERIC(19, 4) NOT NULL CHECK (total_payable = total + fee + interest),
    -- The terms as negotiated (the schedule is in plan_installments).
    terms                   JSONB NOT NULL,
    policy_breaches         JSONB NOT NULL DEFAULT '[]',
    -- Copied from the policy when the plan is made: the terms agreed do not move when
    -- an admin edits the policy later.
    grace_days              INTEGER NOT NULL CHECK (grace_days BETWEEN 0 AND 60),
    default_after_missed    INTEGER NOT NULL CHECK (default_after_missed BETWEEN 1 AND 12),
    -- The business day it was made: payments received from then on count.
    made_on                 DATE NOT NULL,
    -- What counted toward the installments at the last tracking.
    paid                    NUMERIC(19, 4) NOT NULL DEFAULT 0,
    -- The invoice billing the fee and interest, once the plan is approved.
    fee_invoice_id          UUID REFERENCES invoices (id),
    -- Set when the plan defaults: the referral process picks these up.
    referral_candidate_at   TIMESTAMPTZ,
    note                    TEXT,
    cancel_reason           TEXT,
    created_by              UUID,
    approved_by             UUID,
    approved_at             TIMESTAMPTZ,
    activated_at            TIMESTAMPTZ,
    closed_at               TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_plans_customer_idx ON payment_plans (customer_id, created_at);
-- The daily tracking reads live plans only.
CREATE INDEX payment_plans_live_idx ON payment_plans (id) WHERE status IN ('approved', 'active');
CREATE INDEX payment_plans_referral_idx ON payment_plans (referral_candidate_at)
    WHERE referral_candidate_at IS NOT NULL;

CREATE TABLE payment_plan_invoices (
    plan_id    UUID NOT NULL REFERENCES payment_plans (id),
    invoice_id UUID NOT NULL REFERENCES invoices (id),
    PRIMARY KEY (plan_id, invoice_id)
);
CREATE INDEX payment_plan_invoices_invoice_idx ON payment_plan_invoices (invoice_id);

CREATE TABLE plan_installments (
    id        UUID PRIMARY KEY,
    plan_id   UUID NOT NULL REFERENCES payment_plans (id),
    -- 0 is the down payment.
    number    INTEGER NOT NULL CHECK (number >= 0),
    due_date  DATE NOT NULL,
    amount    NUMERIC(19, 4) NOT NULL CHECK (amount >= 0),
    paid      NUMERIC(19, 4) NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= amount),
    -- The day the payment that completed it was received.
    paid_on   DATE,
    status    TEXT NOT NULL CHECK (status IN (
        'scheduled', 'due', 'paid', 'partially_paid', 'late', 'missed')),
    UNIQUE (plan_id, number)
);

ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('invoice', 'nsf_fee', 'plan_fee'));
