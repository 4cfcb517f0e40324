-- File catalogue (DIRAC style): logical file names (LFNs) in a directory
-- tree, each file with its replicas (storage URLs), size and checksum, and
-- metadata on directories and files. Paths are absolute, without a trailing
-- slash ("/" is the root, created here), and compared byte-wise (COLLATE "C")
-- so that a subtree is the range [dir + "/", dir + "0").
CREATE TABLE catalog_dirs (
    path       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    parent     TEXT COLLATE "C" REFERENCES catalog_dirs (path), -- NULL for the root only
    owner      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX catalog_dirs_parent ON catalog_dirs (parent, path);
INSERT INTO catalog_dirs (path, parent, owner, created_at)
    VALUES ('/', NULL, '', date_trunc('microseconds', now()));

CREATE TABLE catalog_files (
    path       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    dir        TEXT COLLATE "C" NOT NULL REFERENCES catalog_dirs (path),
    owner      TEXT   NOT NULL,
    size       BIGINT NOT NULL CHECK (size >= 0),
    checksum   TEXT   NOT NULL DEFAULT '', -- "adler32:…", or '' when unknown
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX catalog_files_dir ON catalog_files (dir, path);

-- Where a file's bytes are: canonical storage URLs; se is the storage
-- element the URL belongs to (file://localhost, node://NODE, https://host).
CREATE TABLE catalog_replicas (
    path       TEXT COLLATE "C" NOT NULL REFERENCES catalog_files (path) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    se         TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (path, url)
);
CREATE INDEX catalog_replicas_url ON catalog_replicas (url);

-- A metadata key has one type, fixed by its first use, shared by directories
-- and files.
CREATE TABLE catalog_meta_keys (
    key        TEXT NOT NULL PRIMARY KEY,
    type       TEXT NOT NULL CHECK (type IN ('number', 'string')),
    created_at TIMESTAMPTZ NOT NULL
);

-- Values: num for number keys, str for string keys, never both.
CREATE TABLE catalog_dir_meta (
    path TEXT COLLATE "C" NOT NULL REFERENCES catalog_dirs (path) ON DELETE CASCADE,
    key  TEXT NOT NULL REFERENCES catalog_meta_keys (key),
    num  DOUBLE PRECISION,
    str  TEXT,
    PRIMARY KEY (path, key),
    CHECK ((num IS NULL) <> (str IS NULL))
);
CREATE INDEX catalog_dir_meta_key ON catalog_dir_meta (key);

CREATE TABLE catalog_file_meta (
    path TEXT COLLATE "C" NOT NULL REFERENCES catalog_files (path) ON DELETE CASCADE,
    key  TEXT NOT NULL REFERENCES catalog_meta_keys (key),
    num  DOUBLE PRECISION,
    str  TEXT,
    PRIMARY KEY (path, key),
    CHECK ((num IS NULL) <> (str IS NULL))
);
CREATE INDEX catalog_file_meta_key ON catalog_file_meta (key);
