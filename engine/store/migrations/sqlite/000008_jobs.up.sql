-- Grid jobs (DIRAC style): an executable with its arguments, requirements
-- and sandboxes, matched to a node of one of its sites, run there through a
-- reservation of its own, and its output collected. The manifest is kept as
-- submitted (JSON); the columns a user filters on are copied out of it.
-- Sandboxes are tar.gz archives named by their sha256 (content-addressed,
-- so the same files submitted twice are stored once).
CREATE TABLE jobs (
    id             TEXT    NOT NULL PRIMARY KEY,
    owner          TEXT    NOT NULL,
    project        TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL DEFAULT '',
    job_group      TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL,
    minor_status   TEXT    NOT NULL DEFAULT '',
    reason         TEXT    NOT NULL DEFAULT '',
    manifest       TEXT    NOT NULL,
    site           TEXT    NOT NULL DEFAULT '',
    node           TEXT    NOT NULL DEFAULT '',
    reservation_id TEXT    NOT NULL DEFAULT '',
    reschedules    INTEGER NOT NULL DEFAULT 0,
    exit_code      INTEGER,
    input_sandbox  TEXT    NOT NULL DEFAULT '',
    output_sandbox TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    started_at     TEXT,
    finished_at    TEXT
) STRICT;
CREATE INDEX jobs_owner ON jobs (owner, created_at);
CREATE INDEX jobs_state ON jobs (state, created_at);

-- One row per stored sandbox archive: its size, and when it was first stored.
CREATE TABLE job_sandboxes (
    sha256     TEXT    NOT NULL PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at TEXT    NOT NULL
) STRICT;
