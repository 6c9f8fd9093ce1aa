-- Updated invoices mark their customers once per statement (issue 4): a payment
-- moves three invoices of one customer in one UPDATE, and the row trigger updated
-- that customer's standing three times (three new row versions, three calls). As on
-- insert (migration 000011), the transition tables give the customers whose invoices
-- changed what the worklist reads (balance, due date, customer).

-- Marks the standings of a set of customers dirty, locking them in id order, as
-- `worklist::refresh` does, so that two statements over the same customers queue
-- rather than deadlock. Both statement triggers on invoices call it.
CREATE FUNCTION account_standings_dirty(customers UUID[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings s SET dirty = TRUE, version = s.version + 1
      FROM (SELECT x.customer_id FROM account_standings x
             WHERE x.customer_id = ANY(customers)
             ORDER BY x.customer_id FOR UPDATE) n
     WHERE s.customer_id = n.customer_id;
END $$;

CREATE OR REPLACE FUNCTION account_standing_dirty_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM account_standings_dirty(ARRAY(SELECT DISTINCT customer_id FROM inserted));
    RETURN NULL;
END $$;

CREATE FUNCTION account_standing_dirty_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM account_standings_dirty(ARRAY(
        SELECT n.customer_id FROM updated n JOIN previous o ON o.id = n.id
         WHERE o.open_balance IS DISTINCT FROM n.open_balance
            OR o.due_date IS DISTINCT FROM n.due_date
            OR o.customer_id IS DISTINCT FROM n.customer_id
        UNION
        SELECT o.customer_id FROM previous o JOIN updated n ON n.id = o.id
         WHERE o.customer_id IS DISTINCT FROM n.customer_id));
    RETURN NULL;
END $$;

DROP TRIGGER invoices_standing_update ON invoices;
CREATE TRIGGER invoices_standing_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS previous NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION account_standing_dirty_updated();
