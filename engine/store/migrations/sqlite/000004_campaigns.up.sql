-- Campaigns: the HCL source and its variables, as submitted, and what ran.
-- sid makes a resubmission idempotent per owner.
CREATE TABLE campaigns (
    id         TEXT NOT NULL PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    sid        TEXT,
    filename   TEXT NOT NULL,
    source     TEXT NOT NULL,
    variables  TEXT NOT NULL DEFAULT '{}',
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    outputs    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at   TEXT,
    UNIQUE (owner, sid)
) STRICT;
CREATE INDEX campaigns_owner ON campaigns (owner, created_at);

-- One row per step (address), updated as it runs; outputs is JSON.
CREATE TABLE campaign_steps (
    campaign_id TEXT    NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    outputs     TEXT    NOT NULL DEFAULT 'null',
    started_at  TEXT,
    ended_at    TEXT,
    PRIMARY KEY (campaign_id, address)
) STRICT;
