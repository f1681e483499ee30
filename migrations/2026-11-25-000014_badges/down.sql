ALTER TABLE nfc_stations DROP CONSTRAINT nfc_stations_code_check;
ALTER TABLE nfc_stations ADD CONSTRAINT nfc_stations_code_check CHECK (code ~ '^[A-Z0-9-]{2,24}$');
DROP TABLE badge_dumps;
DROP TABLE badge_copies;
DROP TABLE badge_quota_resets;
DROP TABLE badge_quotas;
DROP TABLE badges;
