-- Cheaper standing marks (issues 4 and 5: the payment path and bulk imports).
--
-- `account_standing_dirty` was a SQL-language function, which PostgreSQL parses and
-- plans again on every call: the payment path's three invoice updates spent more in
-- their triggers than in the updates. As plpgsql its statement is planned once per
-- session.
CREATE OR REPLACE FUNCTION account_standing_dirty(customer UUID) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings SET dirty = TRUE, version = version + 1
     WHERE customer_id = customer;
END $$;

-- Inserted invoices mark their customers once per statement, from the transition
-- table: a bulk insert of a batch marks each customer once instead of once per row.
-- Customers are locked in id order, as `worklist::refresh` does, so two batches over
-- the same customers cannot deadlock on their standings.
CREATE FUNCTION account_standing_dirty_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings s SET dirty = TRUE, version = s.version + 1
      FROM (SELECT x.customer_id FROM account_standings x
             WHERE x.customer_id IN (SELECT customer_id FROM inserted)
             ORDER BY x.customer_id FOR UPDATE) n
     WHERE s.customer_id = n.customer_id;
    RETURN NULL;
END $$;

DROP TRIGGER invoices_standing ON invoices;
CREATE TRIGGER invoices_standing_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION account_standing_dirty_inserted();
CREATE TRIGGER invoices_standing_delete AFTER DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
