REVOKE ALL ON product_variants, product_identities, product_families, users, audit_log FROM outpost_sync_bot;
REVOKE ALL ON SEQUENCE audit_log_id_seq FROM outpost_sync_bot;
REVOKE USAGE ON SCHEMA public FROM outpost_sync_bot;
