DROP TABLE IF EXISTS node_states;
DROP TABLE IF EXISTS testbed_versions;
