DROP TABLE IF EXISTS catalog_file_meta;
DROP TABLE IF EXISTS catalog_dir_meta;
DROP TABLE IF EXISTS catalog_meta_keys;
DROP TABLE IF EXISTS catalog_replicas;
DROP TABLE IF EXISTS catalog_files;
DROP TABLE IF EXISTS catalog_dirs;
