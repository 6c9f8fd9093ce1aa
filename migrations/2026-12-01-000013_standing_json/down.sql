ALTER TABLE account_standings ALTER COLUMN standing TYPE jsonb USING standing::jsonb;
