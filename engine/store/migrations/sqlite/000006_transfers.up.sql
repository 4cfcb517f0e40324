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
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    finished_at  TEXT
) STRICT;
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
    filesize        INTEGER NOT NULL DEFAULT 0,
    metadata        TEXT    NOT NULL DEFAULT 'null',
    state           TEXT    NOT NULL,
    reason          TEXT    NOT NULL DEFAULT '',
    retries         INTEGER NOT NULL DEFAULT 0,
    priority        INTEGER NOT NULL DEFAULT 3,
    bytes           INTEGER NOT NULL DEFAULT 0,
    source_used     TEXT    NOT NULL DEFAULT '',
    source_checksum TEXT    NOT NULL DEFAULT '',
    dest_checksum   TEXT    NOT NULL DEFAULT '',
    throughput      REAL    NOT NULL DEFAULT 0,
    not_before      TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (job_id, file_index)
) STRICT;
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
    ema        REAL    NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (source_se, dest_se)
) STRICT;

CREATE TABLE optimizer_evolution (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source_se       TEXT    NOT NULL,
    dest_se         TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    active          INTEGER NOT NULL,
    ema             REAL    NOT NULL,
    throughput      REAL    NOT NULL,
    success         REAL    NOT NULL,
    actual_active   INTEGER NOT NULL,
    queue_size      INTEGER NOT NULL,
    filesize_avg    REAL    NOT NULL,
    filesize_stddev REAL    NOT NULL,
    rationale       TEXT    NOT NULL,
    manual          INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX optimizer_evolution_pair ON optimizer_evolution (source_se, dest_se, id);

-- Bans: a storage element (mode CANCEL or WAIT) or a user.
CREATE TABLE transfer_bans (
    kind       TEXT NOT NULL CHECK (kind IN ('storage', 'user')),
    subject    TEXT NOT NULL,
    mode       TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    banned_by  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
) STRICT;
