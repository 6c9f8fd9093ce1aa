DROP TRIGGER invoices_standing_delete ON invoices;
DROP TRIGGER invoices_standing_insert ON invoices;
CREATE TRIGGER invoices_standing AFTER INSERT OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION account_standing_dirty_row();
DROP FUNCTION account_standing_dirty_inserted();
CREATE OR REPLACE FUNCTION account_standing_dirty(customer UUID) RETURNS void LANGUAGE sql AS $$
    UPDATE account_standings SET dirty = TRUE, version = version + 1
     WHERE customer_id = customer;
$$;
