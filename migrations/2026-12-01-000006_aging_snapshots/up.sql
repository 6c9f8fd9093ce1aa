-- Nightly aging snapshots for trends: the aging report of a day, stored per grouping
-- (customer, collector, sales rep, currency) with the default buckets. Retaking a
-- day's snapshot replaces it.
CREATE TABLE aging_snapshots (
    id        BIGSERIAL PRIMARY KEY,
    as_of     DATE NOT NULL,
    group_by  TEXT NOT NULL CHECK (group_by IN ('customer', 'collector', 'sales_rep', 'currency')),
    -- A customer or user id, or the currency code; NULL for no collector / sales rep.
    key       TEXT,
    name      TEXT NOT NULL,
    currency  CHAR(3) NOT NULL,
    labels    TEXT[] NOT NULL,
    amounts   NUMERIC(19, 4)[] NOT NULL,
    counts    BIGINT[] NOT NULL,
    total     NUMERIC(19, 4) NOT NULL,
    disputed  NUMERIC(19, 4) NOT NULL,
    taken_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX aging_snapshots_day_idx ON aging_snapshots (group_by, as_of);
