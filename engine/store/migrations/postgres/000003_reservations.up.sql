-- Reservations (OAR-like jobs). nodes and types are JSON arrays; request keeps
-- what the user asked for, so the item can show it back.
CREATE TABLE reservations (
    id         TEXT        NOT NULL PRIMARY KEY,
    site       TEXT        NOT NULL,
    owner      TEXT        NOT NULL,
    project    TEXT        NOT NULL DEFAULT '',
    name       TEXT        NOT NULL DEFAULT '',
    queue      TEXT        NOT NULL,
    types      TEXT        NOT NULL DEFAULT '[]',
    request    TEXT        NOT NULL DEFAULT '{}',
    state      TEXT        NOT NULL,
    reason     TEXT        NOT NULL DEFAULT '',
    nodes      TEXT        NOT NULL DEFAULT '[]',
    walltime_s BIGINT      NOT NULL,
    start_at   TIMESTAMPTZ NOT NULL,
    end_at     TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX reservations_state_end ON reservations (state, end_at);
CREATE INDEX reservations_owner ON reservations (owner, created_at);
CREATE INDEX reservations_site ON reservations (site, created_at);

-- Every state change, in order: the item's events and the SSE stream.
CREATE TABLE reservation_events (
    seq            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reservation_id TEXT        NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
    at             TIMESTAMPTZ NOT NULL,
    state          TEXT        NOT NULL,
    message        TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX reservation_events_res ON reservation_events (reservation_id, seq);
