-- Accounts and credentials. Times are TEXT in the fixed-width UTC form
-- 2006-01-02T15:04:05.000000Z so that text order is time order.
CREATE TABLE users (
    name          TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    TEXT    NOT NULL
) STRICT;

CREATE TABLE projects (
    name        TEXT NOT NULL PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE project_members (
    project    TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (project, user_name)
) STRICT;
CREATE INDEX project_members_user ON project_members (user_name);

-- Bearer tokens: only the SHA-256 of the token is kept.
CREATE TABLE tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;
CREATE INDEX tokens_user ON tokens (user_name);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- OAuth2 client credentials; the secret is bcrypt-hashed.
CREATE TABLE oauth_clients (
    id          TEXT NOT NULL PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    name        TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX oauth_clients_user ON oauth_clients (user_name);

CREATE TABLE settings (
    key        TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
