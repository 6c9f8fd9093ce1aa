-- Foundation: users and credentials, customers and contacts, holds, audit log.
-- Enumerations are TEXT with CHECK constraints: adding a value is one migration that
-- runs inside a transaction, which ALTER TYPE ... ADD VALUE does not allow everywhere.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'collector', 'field_collector', 'accountant', 'sales', 'auditor')),
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- E-mail is matched case-insensitively: one account per address however it is typed.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id),
    -- All tokens descending from one login share a family; reuse of a spent token revokes it.
    family_id   UUID NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    issued_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    -- First characters of the key, shown in lists so an operator can tell keys apart.
    prefix       TEXT NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    scopes       TEXT[] NOT NULL,
    created_by   UUID NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE customers (
    id                        UUID PRIMARY KEY,
    external_id               TEXT UNIQUE,
    name                      TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('commercial', 'consumer')),
    currency                  CHAR(3) NOT NULL,
    timezone                  TEXT NOT NULL,
    payment_terms_days        INTEGER NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 365),
    credit_limit              NUMERIC(19, 4) CHECK (credit_limit >= 0),
    risk_rating               TEXT CHECK (risk_rating IN ('low', 'medium', 'high', 'critical')),
    assigned_collector_id     UUID REFERENCES users (id),
    sales_rep_id              UUID REFERENCES users (id),
    do_not_contact            BOOLEAN NOT NULL DEFAULT FALSE,
    cease_communication       BOOLEAN NOT NULL DEFAULT FALSE,
    attorney_represented      BOOLEAN NOT NULL DEFAULT FALSE,
    bankrupt                  BOOLEAN NOT NULL DEFAULT FALSE,
    deceased                  BOOLEAN NOT NULL DEFAULT FALSE,
    credit_hold               BOOLEAN NOT NULL DEFAULT FALSE,
    -- The current collection hold, kept beside its history in customer_holds so that
    -- lists can filter on it; it lapses by itself at collection_hold_expires_at.
    collection_hold_reason     TEXT,
    collection_hold_expires_at TIMESTAMPTZ,
    collection_hold_placed_at  TIMESTAMPTZ,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_name_idx ON customers (name, id);
CREATE INDEX customers_created_idx ON customers (created_at, id);
CREATE INDEX customers_collector_idx ON customers (assigned_collector_id, name, id);
CREATE INDEX customers_sales_rep_idx ON customers (sales_rep_id, name, id);
CREATE INDEX customers_name_lower_idx ON customers (lower(name) text_pattern_ops);

CREATE TABLE contacts (
    id                 UUID PRIMARY KEY,
    customer_id        UUID NOT NULL REFERENCES customers (id),
    name               TEXT NOT NULL,
    role               TEXT,
    email              TEXT,
    phone              TEXT,
    preferred_channel  TEXT NOT NULL CHECK (preferred_channel IN ('phone', 'email', 'sms', 'letter', 'visit')),
    timezone           TEXT,
    no_contact_windows JSONB NOT NULL DEFAULT '[]',
    is_primary         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX contacts_customer_idx ON contacts (customer_id, created_at, id);

CREATE TABLE customer_holds (
    id           UUID PRIMARY KEY,
    customer_id  UUID NOT NULL REFERENCES customers (id),
    kind         TEXT NOT NULL CHECK (kind IN ('collection', 'credit')),
    reason       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    placed_by    UUID,
    placed_at    TIMESTAMPTZ NOT NULL,
    released_by  UUID,
    released_at  TIMESTAMPTZ
);
CREATE INDEX customer_holds_customer_idx ON customer_holds (customer_id, placed_at);

CREATE TABLE audit_events (
    id           UUID PRIMARY KEY,
    occurred_at  TIMESTAMPTZ NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id     UUID,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    UUID NOT NULL,
    before       JSONB,
    after        JSONB,
    request_id   TEXT
);
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_type, entity_id, occurred_at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, occurred_at);

-- The audit log is append-only: the database itself refuses to rewrite history.
CREATE FUNCTION refuse_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_mutation();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_mutation();
