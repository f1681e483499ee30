DROP TABLE badge_quota_resets;
DROP TABLE badge_quotas;
DROP TABLE badges;
