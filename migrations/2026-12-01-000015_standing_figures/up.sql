-- The figures that decide an account's place on the worklist, kept as columns beside
-- the standing's JSON (issue 6: p95 ≤ 50 ms for 5,000 accounts). A read ranks all of
-- a collector's accounts from these narrow columns and reads the JSON (reasons,
-- promises, installments) only for the page it shows: sending and parsing every
-- account's JSON was most of a read's time.
--
-- NULL until the standing is next computed; the read treats such a standing as stale.
ALTER TABLE account_standings
    ADD COLUMN open_balance        NUMERIC,
    ADD COLUMN disputed            NUMERIC,
    -- Past-due and net of disputes, over every bucket.
    ADD COLUMN collectible_overdue NUMERIC,
    -- The buckets holding past-due invoices (the worklist's bucket filter).
    ADD COLUMN overdue_buckets     TEXT[],
    ADD COLUMN oldest_due_on       DATE,
    ADD COLUMN promised_pending    NUMERIC,
    ADD COLUMN promised_today      NUMERIC,
    ADD COLUMN broken_promises     INTEGER,
    ADD COLUMN missed_installments INTEGER,
    ADD COLUMN on_plan             NUMERIC,
    ADD COLUMN last_contact_on     DATE,
    ADD COLUMN tasks_due           INTEGER;

-- Every standing is recomputed (by the next read or the nightly job) with its columns.
UPDATE account_standings SET dirty = TRUE, version = version + 1;
