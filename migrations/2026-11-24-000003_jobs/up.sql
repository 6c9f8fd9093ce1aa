-- Background jobs: their status and progress for callers, the outbox that hands them
-- to the queue after commit, and the files of imports.

CREATE TABLE jobs (
    id             UUID PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('import')),
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    progress_done  BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT,
    result         JSONB,
    problem        JSONB,
    attempts       INTEGER NOT NULL DEFAULT 0,
    actor_kind     TEXT NOT NULL,
    created_by     UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ
);

-- Written in the transaction of the change that needs the job; the worker's relay
-- pushes unsent rows to Redis and marks them, so a rollback leaves no job and a crash
-- between commit and push loses none.
CREATE TABLE outbox (
    id         BIGSERIAL PRIMARY KEY,
    queue      TEXT NOT NULL,
    job_id     UUID NOT NULL REFERENCES jobs (id),
    created_at TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ
);
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE imports (
    id         UUID PRIMARY KEY,
    job_id     UUID NOT NULL UNIQUE REFERENCES jobs (id),
    layout     TEXT NOT NULL CHECK (layout IN ('ibm')),
    content    BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
