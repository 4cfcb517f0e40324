-- Transfer jobs (FTS3 style): files with sources and a destination, copied
-- and verified by the transfer workflow. sid (with the owner) makes a
-- deterministic resubmission find the job it made before.
CREATE TABLE transfer_jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    owner        TEXT    NOT NULL,
    project      TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    priority     INTEGER NOT NULL DEFAULT 3,
    verify       TEXT    NOT NULL DEFAULT 'none',
    overwrite    INTEGER NOT NULL DEFAULT 0,
    retry        INTEGER NOT NULL DEFAULT 0,
    retry_delay  INTEGER NOT NULL DEFAULT 0,
    multihop     INTEGER NOT NULL DEFAULT 0,
    sid          TEXT    NOT NULL DEFAULT '',
    metadata     TEXT    NOT NULL DEFAULT 'null',
    source_se    TEXT    NOT NULL DEFAULT '',
    dest_se      TEXT    NOT NULL DEFAULT '',
    files_total  INTEGER NOT NULL,
    created_at   TIMESTAMPTZ    NOT NULL,
    updated_at   TIMESTAMPTZ    NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX transfer_jobs_owner ON transfer_jobs (owner, created_at);
CREATE INDEX transfer_jobs_state ON transfer_jobs (state, created_at);

-- One row per file. source_se/dest_se name the pair its first source and
-- its destination belong to; bytes grows while it is copied; not_before
-- holds a retry back until its delay has passed.
CREATE TABLE transfer_files (
    job_id          TEXT    NOT NULL REFERENCES transfer_jobs (id) ON DELETE CASCADE,
    file_index      INTEGER NOT NULL,
    sources         TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    source_se       TEXT    NOT NULL,
    dest_se         TEXT    NOT NULL,
    checksum        TEXT    NOT NULL DEFAULT '',
    filesize        BIGINT NOT NULL DEFAULT 0,
    metadata        TEXT    NOT NULL DEFAULT 'null',
    state           TEXT    NOT NULL,
    reason          TEXT    NOT NULL DEFAULT '',
    retries         INTEGER NOT NULL DEFAULT 0,
    priority        INTEGER NOT NULL DEFAULT 3,
    bytes           BIGINT NOT NULL DEFAULT 0,
    source_used     TEXT    NOT NULL DEFAULT '',
    source_checksum TEXT    NOT NULL DEFAULT '',
    dest_checksum   TEXT    NOT NULL DEFAULT '',
    throughput      DOUBLE PRECISION    NOT NULL DEFAULT 0,
    not_before      TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (job_id, file_index)
);
-- The job's priority is kept on its files so that "does a job of higher
-- priority wait on this pair?" is one index seek; claims walk a job's queued
-- files of a pair in index order, whatever the size of the job.
CREATE INDEX transfer_files_pair ON transfer_files (source_se, dest_se, state, priority);
CREATE INDEX transfer_files_state ON transfer_files (job_id, state, source_se, dest_se, file_index);
CREATE INDEX transfer_files_finished ON transfer_files (source_se, dest_se, finished_at);

-- The optimizer's current values per pair, and every decision it (or an
-- administrator) made, with the figures it saw and why.
CREATE TABLE transfer_pairs (
    source_se  TEXT    NOT NULL,
    dest_se    TEXT    NOT NULL,
    max_active INTEGER NOT NULL,
    ema        DOUBLE PRECISION    NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (source_se, dest_se)
);

CREATE TABLE optimizer_evolution (
    id              BIGSERIAL PRIMARY KEY,
    source_se       TEXT    NOT NULL,
    dest_se         TEXT    NOT NULL,
    at              TIMESTAMPTZ    NOT NULL,
    active          INTEGER NOT NULL,
    ema             DOUBLE PRECISION    NOT NULL,
    throughput      DOUBLE PRECISION    NOT NULL,
    success         DOUBLE PRECISION    NOT NULL,
    actual_active   INTEGER NOT NULL,
    queue_size      INTEGER NOT NULL,
    filesize_avg    DOUBLE PRECISION    NOT NULL,
    filesize_stddev DOUBLE PRECISION    NOT NULL,
    rationale       TEXT    NOT NULL,
    manual          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX optimizer_evolution_pair ON optimizer_evolution (source_se, dest_se, id);

-- Bans: a storage element (mode CANCEL or WAIT) or a user.
CREATE TABLE transfer_bans (
    kind       TEXT NOT NULL CHECK (kind IN ('storage', 'user')),
    subject    TEXT NOT NULL,
    mode       TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    banned_by  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, subject)
);
