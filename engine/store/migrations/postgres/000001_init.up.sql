-- Accounts and credentials.
CREATE TABLE users (
    name          TEXT        NOT NULL PRIMARY KEY,
    email         TEXT        NOT NULL DEFAULT '',
    password_hash TEXT        NOT NULL,
    admin         BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE projects (
    name        TEXT        NOT NULL PRIMARY KEY,
    description TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE project_members (
    project    TEXT        NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    user_name  TEXT        NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project, user_name)
);
CREATE INDEX project_members_user ON project_members (user_name);

-- Bearer tokens: only the SHA-256 of the token is kept.
CREATE TABLE tokens (
    id           TEXT        NOT NULL PRIMARY KEY,
    user_name    TEXT        NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name         TEXT        NOT NULL DEFAULT '',
    token_sha256 TEXT        NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX tokens_user ON tokens (user_name);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- OAuth2 client credentials; the secret is bcrypt-hashed.
CREATE TABLE oauth_clients (
    id          TEXT        NOT NULL PRIMARY KEY,
    user_name   TEXT        NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name        TEXT        NOT NULL DEFAULT '',
    secret_hash TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_clients_user ON oauth_clients (user_name);

CREATE TABLE settings (
    key        TEXT        NOT NULL PRIMARY KEY,
    value      TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
