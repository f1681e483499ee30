UPDATE operations SET resolution = NULL, resolved_at = NULL WHERE resolution = 'shown_on_form';
ALTER TABLE operations DROP CONSTRAINT operations_resolution_check;
ALTER TABLE operations ADD CONSTRAINT operations_resolution_check CHECK (resolution IN ('accepted', 'kept_server', 'edited'));
ALTER TABLE nfc_stations DROP COLUMN announced_online;
ALTER TABLE badge_copies DROP COLUMN recorded_offline;
DELETE FROM user_hubs WHERE user_id IN (SELECT user_id FROM nfc_stations);
ALTER TABLE nfc_stations DROP COLUMN user_id;
DELETE FROM users WHERE role = 'NfcStation';
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('SuperAdmin', 'Admin',
    'LogisticsManager', 'DepotManager', 'WarehouseOp', 'SalesRep', 'Driver', 'Auditor',
    'CustomerUser', 'SystemBot'));
