-- Environments catalog (kadeploy environments): an image archive and its
-- checksum, per name and version. The built-in public environments are
-- added by the deployment service (hw.PublicEnvironments), not here, so that
-- the catalog follows the binary.
CREATE TABLE environments (
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    os          TEXT    NOT NULL DEFAULT '',
    url         TEXT    NOT NULL,
    checksum    TEXT    NOT NULL,
    size        BIGINT  NOT NULL DEFAULT 0,
    owner       TEXT    NOT NULL,
    project     TEXT    NOT NULL DEFAULT '',
    visibility  TEXT    NOT NULL CHECK (visibility IN ('public', 'project', 'private')),
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, version)
);

-- Deployments: an environment written on nodes of a running reservation.
-- environment is "name@version" (or a label for an image given by URL);
-- env_url and env_checksum are what the nodes install, copied at submission
-- so that a later catalog change does not alter a running deployment.
-- run counts the runs: a retry redeploys the KO nodes in a new run.
CREATE TABLE deployments (
    id             TEXT    NOT NULL PRIMARY KEY,
    site           TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    reservation_id TEXT    NOT NULL,
    environment    TEXT    NOT NULL,
    env_url        TEXT    NOT NULL DEFAULT '',
    env_checksum   TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    run            INTEGER NOT NULL DEFAULT 1,
    options        TEXT    NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX deployments_site ON deployments (site, created_at);
CREATE INDEX deployments_owner ON deployments (owner, created_at);
CREATE INDEX deployments_state ON deployments (state);

-- One row per node: its result, the step it is at (or stopped at) and why,
-- and the seconds each step took (JSON object).
CREATE TABLE deployment_nodes (
    deployment_id TEXT    NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    node          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    step          TEXT    NOT NULL DEFAULT '',
    reason        TEXT    NOT NULL DEFAULT '',
    timings       TEXT    NOT NULL DEFAULT '{}',
    attempts      INTEGER NOT NULL DEFAULT 0,
    run           INTEGER NOT NULL DEFAULT 1,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (deployment_id, node)
);
CREATE INDEX deployment_nodes_node ON deployment_nodes (node, state);
