DROP TABLE badge_dumps;
DROP TABLE badge_copies;
DROP TABLE badge_quota_resets;
DROP TABLE badge_quotas;
DROP TABLE badges;
