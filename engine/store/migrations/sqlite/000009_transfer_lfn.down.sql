ALTER TABLE transfer_files DROP COLUMN lfn;
