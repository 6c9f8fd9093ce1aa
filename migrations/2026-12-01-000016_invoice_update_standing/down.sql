DROP TRIGGER invoices_standing_update ON invoices;
DROP FUNCTION account_standing_dirty_updated();
CREATE TRIGGER invoices_standing_update AFTER UPDATE ON invoices
    FOR EACH ROW WHEN (OLD.open_balance IS DISTINCT FROM NEW.open_balance
                       OR OLD.due_date IS DISTINCT FROM NEW.due_date
                       OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION account_standing_dirty_row();
-- The insert trigger's own statement, as migration 000011 wrote it.
CREATE OR REPLACE FUNCTION account_standing_dirty_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings s SET dirty = TRUE, version = s.version + 1
      FROM (SELECT x.customer_id FROM account_standings x
             WHERE x.customer_id IN (SELECT customer_id FROM inserted)
             ORDER BY x.customer_id FOR UPDATE) n
     WHERE s.customer_id = n.customer_id;
    RETURN NULL;
END $$;
DROP FUNCTION account_standings_dirty(UUID[]);
