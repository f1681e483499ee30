-- Ids must follow chain order. The column default draws an id before the trigger waits for the
-- chain lock, so two concurrent writers could commit in the opposite order of their ids; the
-- trigger now draws the id itself, after taking the lock.
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7270811);
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, 'genesis');
    NEW.occurred_at := coalesce(NEW.occurred_at, now());
    NEW.hash := audit_digest(NEW);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

-- The trigger is the only source of ids, so none is drawn and thrown away by the default.
ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT;
