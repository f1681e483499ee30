-- The role and its membership of outpost_sync_bot stay (they belong to the cluster, and other
-- databases may use them); this database stops granting it anything.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM outpost_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM outpost_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM outpost_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM outpost_app;
REVOKE USAGE ON SCHEMA public FROM outpost_app;
