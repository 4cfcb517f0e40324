-- A file of a transfer may name a logical file of the catalogue: when the
-- copy finishes, its destination is registered as a replica of it.
ALTER TABLE transfer_files ADD COLUMN lfn TEXT NOT NULL DEFAULT '';
