DROP TABLE IF EXISTS campaign_steps;
DROP TABLE IF EXISTS campaigns;
