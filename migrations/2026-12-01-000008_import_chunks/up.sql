-- Imports of every kind, stored as they arrive: the file goes in ~1 MiB chunks written
-- while the body streams in (in the transaction that queues the job), and the worker
-- reads it back chunk by chunk. Neither side ever holds the whole file. Each batch of
-- rows commits with the position after its last row, so a restarted job resumes there.

ALTER TABLE imports DROP CONSTRAINT imports_layout_check;
ALTER TABLE imports RENAME COLUMN layout TO kind;
ALTER TABLE imports ADD CONSTRAINT imports_kind_check
    CHECK (kind IN ('customers', 'invoices', 'payments', 'ibm'));
-- The column mapping for a layout of the sender's own; NULL: the kind's built-in layout.
ALTER TABLE imports ADD COLUMN mapping JSONB;
ALTER TABLE imports ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0;
-- Where the next batch starts: the byte offset of its first row and that row's line
-- (the header is line 1), both as of the last committed batch.
ALTER TABLE imports ADD COLUMN resume_offset BIGINT;
ALTER TABLE imports ADD COLUMN resume_line BIGINT;
-- Running totals of the committed batches (the report is built from them); `rejected`
-- counts rows refused, each with one or more errors in import_row_errors.
ALTER TABLE imports ADD COLUMN rows_read BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN customers_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN invoices_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN payments_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN updated BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN unchanged BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN rejected BIGINT NOT NULL DEFAULT 0;

CREATE TABLE import_chunks (
    import_id   UUID NOT NULL REFERENCES imports (id) DEFERRABLE INITIALLY DEFERRED,
    seq         INTEGER NOT NULL CHECK (seq >= 0),
    -- Byte offset of the chunk's first byte in the file.
    byte_offset BIGINT NOT NULL CHECK (byte_offset >= 0),
    data        BYTEA NOT NULL,
    PRIMARY KEY (import_id, seq)
);
-- CSV compresses well, but pglz on every chunk costs more CPU than the disk it saves
-- for a file that is read once.
ALTER TABLE import_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Files stored whole before this migration become one chunk each.
INSERT INTO import_chunks (import_id, seq, byte_offset, data)
    SELECT id, 0, 0, content FROM imports;
UPDATE imports SET size_bytes = octet_length(content);
ALTER TABLE imports DROP COLUMN content;

-- Rejected rows, written with the batch they were found in (so a resumed job keeps the
-- errors of the rows before its resume point).
CREATE TABLE import_row_errors (
    import_id   UUID NOT NULL REFERENCES imports (id),
    line        BIGINT NOT NULL,
    seq         INTEGER NOT NULL,
    column_name TEXT,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    PRIMARY KEY (import_id, line, seq)
);

-- A run that moved a job forward does not use up an attempt (see job::start): this is
-- the progress the current run started from.
ALTER TABLE jobs ADD COLUMN progress_at_start BIGINT NOT NULL DEFAULT 0;
