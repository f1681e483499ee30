-- The Zoho sync worker acts through this role (SET LOCAL ROLE in its transactions). It may read
-- the catalog and write only the sync columns of variants, and append to the audit log: a bug in
-- the worker cannot change a price. Roles belong to the whole cluster, so create it only once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outpost_sync_bot') THEN
        CREATE ROLE outpost_sync_bot NOLOGIN;
    END IF;
END $$;
GRANT outpost_sync_bot TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO outpost_sync_bot;
GRANT SELECT ON product_variants, product_identities, product_families, users TO outpost_sync_bot;
GRANT UPDATE (zoho_sync_status, zoho_item_id, zoho_last_error, zoho_synced_at) ON product_variants TO outpost_sync_bot;
GRANT SELECT, INSERT ON audit_log TO outpost_sync_bot;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO outpost_sync_bot;
