DROP TRIGGER invoices_standing_update ON invoices;
DROP FUNCTION account_standing_dirty_updated();
CREATE TRIGGER invoices_standing_update AFTER UPDATE ON invoices
    FOR EACH ROW WHEN (OLD.open_balance IS DISTINCT FROM NEW.open_balance
                       OR OLD.due_date IS DISTINCT FROM NEW.due_date
                       OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION account_standing_dirty_row();
