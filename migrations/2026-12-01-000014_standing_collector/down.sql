DROP TRIGGER customers_standing_collector ON customers;
DROP FUNCTION account_standing_collector();
DROP INDEX account_standings_collector_idx;
ALTER TABLE account_standings DROP COLUMN collector_id;
