ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('audit_log', 'id'));
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7270811);
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, 'genesis');
    NEW.occurred_at := coalesce(NEW.occurred_at, now());
    NEW.hash := audit_digest(NEW);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
