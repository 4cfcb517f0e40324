-- Reference history of the testbed description (Grid'5000 "versions").
-- uid is the SHA-1 of the snapshot and is not unique: a testbed may return
-- to an earlier description. seq breaks ties between equal created_at.
-- The snapshot is BYTEA, not JSONB, so that its bytes (and uid) survive.
CREATE TABLE testbed_versions (
    seq        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid        TEXT        NOT NULL,
    message    TEXT        NOT NULL DEFAULT '',
    author     TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    snapshot   BYTEA       NOT NULL
);
CREATE INDEX testbed_versions_created ON testbed_versions (created_at, seq);
CREATE INDEX testbed_versions_uid ON testbed_versions (uid);

-- Live node states; a node without a row is free.
CREATE TABLE node_states (
    node       TEXT        NOT NULL PRIMARY KEY,
    state      TEXT        NOT NULL,
    reason     TEXT        NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);
