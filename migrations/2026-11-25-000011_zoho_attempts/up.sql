-- Attempts at sending a variant to Zoho since it was last synced, edited or retried. Kept in
-- the database so the limit holds across jobs, sweeps and worker restarts; waiting for the
-- request budget is not an attempt.
ALTER TABLE product_variants ADD COLUMN zoho_attempts INTEGER NOT NULL DEFAULT 0 CHECK (zoho_attempts >= 0);
GRANT UPDATE (zoho_attempts) ON product_variants TO outpost_sync_bot;

-- A person's edit (a new version) starts the count again.
CREATE FUNCTION product_variants_reset_zoho_attempts() RETURNS trigger AS $$
BEGIN
    IF NEW.version IS DISTINCT FROM OLD.version THEN
        NEW.zoho_attempts := 0;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER product_variants_reset_zoho_attempts BEFORE UPDATE ON product_variants
    FOR EACH ROW EXECUTE FUNCTION product_variants_reset_zoho_attempts();
