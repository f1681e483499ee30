-- Each NFC station acts through its own account (role NfcStation, scoped to the station's hub):
-- copies recorded at a station while the server was unreachable come in through the same sync
-- pipeline as every other operation, authorised, scoped and audited as that station. The account
-- has no password (a hash that never verifies); only the station token speaks for it.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('SuperAdmin', 'Admin',
    'LogisticsManager', 'DepotManager', 'WarehouseOp', 'SalesRep', 'Driver', 'Auditor',
    'CustomerUser', 'SystemBot', 'NfcStation'));

ALTER TABLE nfc_stations ADD COLUMN user_id BIGINT UNIQUE REFERENCES users(id);

WITH made AS (
    INSERT INTO users (username, display_name, role, organisation_id, password_hash)
    SELECT 'station.' || lower(s.code), 'Station ' || s.code, 'NfcStation', h.organisation_id, '!'
    FROM nfc_stations s JOIN hubs h ON h.id = s.hub_id
    RETURNING id, username
)
UPDATE nfc_stations s SET user_id = made.id FROM made WHERE made.username = 'station.' || lower(s.code);
INSERT INTO user_hubs (user_id, hub_id) SELECT user_id, hub_id FROM nfc_stations;
ALTER TABLE nfc_stations ALTER COLUMN user_id SET NOT NULL;

-- A copy recorded at the station (offline) was never requested at the server.
ALTER TABLE badge_copies ADD COLUMN recorded_offline BOOLEAN NOT NULL DEFAULT FALSE;

-- Whether the live dashboards were last told the station is online (so online/offline is
-- announced once per change, not at every pickup).
ALTER TABLE nfc_stations ADD COLUMN announced_online BOOLEAN NOT NULL DEFAULT FALSE;

-- A refusal shown to the person on the form they sent is settled there (not a Sync Issue).
ALTER TABLE operations DROP CONSTRAINT operations_resolution_check;
ALTER TABLE operations ADD CONSTRAINT operations_resolution_check
    CHECK (resolution IN ('accepted', 'kept_server', 'edited', 'shown_on_form'));
