-- Updated invoices mark their customers once per statement (issue 4): a payment
-- moves three invoices of one customer in one UPDATE, and the row trigger updated
-- that customer's standing three times (three new row versions, three calls). As on
-- insert (migration 000011), the transition tables give the customers whose invoices
-- changed what the worklist reads (balance, due date, customer), locked in id order.
CREATE FUNCTION account_standing_dirty_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings s SET dirty = TRUE, version = s.version + 1
      FROM (SELECT x.customer_id FROM account_standings x
             WHERE x.customer_id IN (
                   SELECT n.customer_id FROM updated n JOIN previous o ON o.id = n.id
                    WHERE o.open_balance IS DISTINCT FROM n.open_balance
                       OR o.due_date IS DISTINCT FROM n.due_date
                       OR o.customer_id IS DISTINCT FROM n.customer_id
                   UNION
                   SELECT o.customer_id FROM previous o JOIN updated n ON n.id = o.id
                    WHERE o.customer_id IS DISTINCT FROM n.customer_id)
             ORDER BY x.customer_id FOR UPDATE) m
     WHERE s.customer_id = m.customer_id;
    RETURN NULL;
END $$;

DROP TRIGGER invoices_standing_update ON invoices;
CREATE TRIGGER invoices_standing_update AFTER UPDATE ON invoices
    REFERENCING OLD TABLE AS previous NEW TABLE AS updated
    FOR EACH STATEMENT EXECUTE FUNCTION account_standing_dirty_updated();
