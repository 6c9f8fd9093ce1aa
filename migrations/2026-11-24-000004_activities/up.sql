-- Every collection action, by people and by the worker. Append-only like the audit
-- log: a correction is a new note, so the database refuses UPDATE and DELETE.
CREATE TABLE activities (
    id            UUID PRIMARY KEY,
    customer_id   UUID NOT NULL REFERENCES customers (id),
    kind          TEXT NOT NULL CHECK (kind IN ('call', 'email', 'letter', 'sms', 'visit', 'meeting', 'note')),
    direction     TEXT CHECK (direction IN ('inbound', 'outbound')),
    contact_id    UUID REFERENCES contacts (id),
    outcome       TEXT CHECK (outcome IN (
                      'no_answer', 'left_message', 'promised', 'disputed', 'refused',
                      'wrong_number', 'paid', 'callback_requested', 'reached',
                      'sent', 'bounced', 'promise_broken', 'promise_kept',
                      'installment_missed', 'plan_defaulted', 'other')),
    subject       TEXT,
    notes         TEXT NOT NULL DEFAULT '',
    follow_up_on  DATE,
    task_id       UUID REFERENCES tasks (id),
    -- Who logged it: a user, or NULL with actor_kind 'system' / 'api_key'.
    actor_kind    TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id      UUID,
    -- What made it, when the system did (`promise`, `payment_plan`, …).
    source_type   TEXT,
    source_id     UUID,
    occurred_at   TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX activities_customer_idx ON activities (customer_id, occurred_at DESC, id DESC);
CREATE INDEX activities_actor_idx ON activities (actor_id, occurred_at);
-- One system activity per source event, so a job that runs twice logs once.
CREATE UNIQUE INDEX activities_source_once ON activities (source_type, source_id, outcome)
    WHERE actor_kind = 'system' AND source_id IS NOT NULL;

CREATE FUNCTION activities_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activities are append-only';
END;
$$;
CREATE TRIGGER activities_no_update BEFORE UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_append_only();
CREATE TRIGGER activities_no_truncate BEFORE TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION activities_append_only();

-- Admin-configurable settings (worklist weights, payment-plan policy, business
-- calendar…): one JSON document per key, typed and validated in `core`.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  UUID
);

-- Jobs about one thing (evaluate this customer's promises, track this plan).
ALTER TABLE jobs ADD COLUMN subject_type TEXT, ADD COLUMN subject_id UUID;
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'import', 'promise_evaluation', 'installment_tracking', 'aging_snapshot'));
