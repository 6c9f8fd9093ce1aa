ALTER TABLE jobs DROP COLUMN progress_at_start;
DROP TABLE import_row_errors;
ALTER TABLE imports ADD COLUMN content BYTEA;
UPDATE imports i SET content = (
    SELECT string_agg(c.data, ''::bytea ORDER BY c.seq) FROM import_chunks c WHERE c.import_id = i.id
);
UPDATE imports SET content = ''::bytea WHERE content IS NULL;
ALTER TABLE imports ALTER COLUMN content SET NOT NULL;
DROP TABLE import_chunks;
ALTER TABLE imports DROP COLUMN rejected;
ALTER TABLE imports DROP COLUMN unchanged;
ALTER TABLE imports DROP COLUMN updated;
ALTER TABLE imports DROP COLUMN payments_created;
ALTER TABLE imports DROP COLUMN invoices_created;
ALTER TABLE imports DROP COLUMN customers_created;
ALTER TABLE imports DROP COLUMN rows_read;
ALTER TABLE imports DROP COLUMN resume_line;
ALTER TABLE imports DROP COLUMN resume_offset;
ALTER TABLE imports DROP COLUMN size_bytes;
ALTER TABLE imports DROP COLUMN mapping;
DELETE FROM imports WHERE kind <> 'ibm';
ALTER TABLE imports DROP CONSTRAINT imports_kind_check;
ALTER TABLE imports RENAME COLUMN kind TO layout;
ALTER TABLE imports ADD CONSTRAINT imports_layout_check CHECK (layout IN ('ibm'));
