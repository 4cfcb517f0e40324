DROP TABLE IF EXISTS deployment_nodes;
DROP TABLE IF EXISTS deployments;
DROP TABLE IF EXISTS environments;
