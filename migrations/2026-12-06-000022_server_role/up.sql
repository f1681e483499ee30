-- The role the server and workers connect as (issue 27). It reads and writes every table but
-- owns none, so it cannot switch off or drop the triggers that refuse TRUNCATE of invoices, the
-- ledger, operations and the audit tables, nor UPDATE/DELETE of the records; only the owner who
-- runs these migrations (OUTPOST_DATABASE_OWNER_URL) can. It may log in: with password
-- authentication it has no password until an administrator sets one
-- (ALTER ROLE outpost_app PASSWORD '…'). Roles belong to the whole cluster, and several
-- databases may be migrated at once, so a concurrent creation is not an error.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'outpost_app') THEN
        CREATE ROLE outpost_app LOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;
GRANT USAGE ON SCHEMA public TO outpost_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO outpost_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO outpost_app;
-- What later migrations create is granted the same way.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO outpost_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO outpost_app;
-- Which migrations ran is the owner's business.
REVOKE INSERT, UPDATE, DELETE ON __diesel_schema_migrations FROM outpost_app;
-- The Zoho worker narrows itself to outpost_sync_bot (SET LOCAL ROLE) in its transactions.
GRANT outpost_sync_bot TO outpost_app;
