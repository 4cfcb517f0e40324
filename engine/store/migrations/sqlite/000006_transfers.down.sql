DROP TABLE IF EXISTS transfer_bans;
DROP TABLE IF EXISTS optimizer_evolution;
DROP TABLE IF EXISTS transfer_pairs;
DROP TABLE IF EXISTS transfer_files;
DROP TABLE IF EXISTS transfer_jobs;
