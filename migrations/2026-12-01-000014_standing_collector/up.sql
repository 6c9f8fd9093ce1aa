-- The worklist reads one collector's standings (5,000 of them, issue 6). Keyed by
-- customer only, that was a probe per account or a scan of every standing; with the
-- collector kept on the standing, both sides of the read come from their collector
-- indexes and meet in one hash join.
--
-- The copy follows the customer in the same transaction (the trigger below); a
-- standing whose copy disagrees anyway is simply not found by the read, which then
-- recomputes and saves it with the customer's collector, so a wrong copy costs time,
-- never a wrong list.
ALTER TABLE account_standings ADD COLUMN collector_id UUID;
UPDATE account_standings s SET collector_id = c.assigned_collector_id
  FROM customers c WHERE c.id = s.customer_id;
CREATE INDEX account_standings_collector_idx ON account_standings (collector_id);

CREATE FUNCTION account_standing_collector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_standings SET collector_id = NEW.assigned_collector_id
     WHERE customer_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_standing_collector AFTER UPDATE OF assigned_collector_id ON customers
    FOR EACH ROW WHEN (OLD.assigned_collector_id IS DISTINCT FROM NEW.assigned_collector_id)
    EXECUTE FUNCTION account_standing_collector();
