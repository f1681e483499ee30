DROP TABLE user_customers, customers, user_hubs, users, hubs, organisations, app_meta;
