-- A standing is written whole and read whole, as text, on every worklist read (5,000
-- per collector): `json` keeps the text as written, where `jsonb` must be rendered back
-- to text on each read, which was most of the read's time in the database (issue 6).
ALTER TABLE account_standings ALTER COLUMN standing TYPE json USING standing::json;
