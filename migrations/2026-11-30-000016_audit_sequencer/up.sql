-- The audit chain without a global writer lock (issue 14).
--
-- Before: a BEFORE INSERT trigger took one cluster-wide advisory lock and held it until commit,
-- so every audited transaction waited for the previous one's commit flush. Now writers only
-- append: the row goes into audit_log and its id into audit_pending, in the writer's own
-- transaction, with no lock shared between writers. One sequencer at a time (see
-- src/audit/seal.rs) takes committed pending rows in id order, links each to the chain in
-- audit_chain and removes it from audit_pending, in one transaction. Checkpoints of the chain's
-- head are signed and kept outside PostgreSQL, so removing the newest rows is detected too.

DROP TRIGGER audit_log_chain ON audit_log;
DROP FUNCTION audit_log_chain();
DROP FUNCTION audit_digest(audit_log);

-- Ids come from the sequence again; the chain's order is audit_chain.seq, not the id.
ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval(pg_get_serial_sequence('audit_log', 'id'));
ALTER TABLE audit_log ALTER COLUMN occurred_at SET DEFAULT now();

-- The canonical text of a row's content that its link covers. Timestamps are rendered in UTC
-- so the session's TimeZone cannot change the digest.
CREATE FUNCTION audit_content_digest(a audit_log) RETURNS TEXT AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        a.id::text,
        to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        coalesce(a.actor_id::text, ''), coalesce(a.actor_name, ''),
        coalesce(a.role_at_capture, ''), coalesce(a.role_at_apply, ''),
        a.action, coalesce(a.object_type, ''), coalesce(a.object_id, ''),
        coalesce(a.before::text, ''), coalesce(a.after::text, ''),
        a.offline::text, coalesce(a.operation_id::text, ''), a.outcome,
        coalesce(a.hub_id::text, ''), coalesce(a.customer_id::text, ''), coalesce(a.client_addr, '')
    ), 'UTF8')), 'hex')
$$ LANGUAGE sql IMMUTABLE;

-- A link of the chain: its position, the row it seals, and hash(prev_hash | seq | content).
CREATE FUNCTION audit_link_hash(prev_hash TEXT, seq BIGINT, content TEXT) RETURNS TEXT AS $$
    SELECT encode(sha256(convert_to(prev_hash || '|' || seq::text || '|' || content, 'UTF8')), 'hex')
$$ LANGUAGE sql IMMUTABLE;

CREATE TABLE audit_chain (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    audit_id   BIGINT NOT NULL UNIQUE REFERENCES audit_log(id),
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    sealed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Rows written and not sealed yet. Writers insert here (through the trigger below); only the
-- sequencer deletes.
CREATE TABLE audit_pending (
    audit_id BIGINT PRIMARY KEY REFERENCES audit_log(id)
);

-- SECURITY DEFINER: every role that may append to the audit log (the Zoho worker's
-- outpost_sync_bot included) queues its rows without a grant on the queue itself.
CREATE FUNCTION audit_log_queue() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_pending (audit_id) VALUES (NEW.id);
    RETURN NULL;
END $$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;

CREATE TRIGGER audit_log_queue AFTER INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_queue();

-- The chain is append-only like the log it seals.
CREATE TRIGGER audit_chain_no_update_delete BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The rows written so far are sealed in their existing order (the old chain's order was the id
-- order, enforced by the old trigger).
DO $$
DECLARE
    r RECORD;
    prev TEXT := 'genesis';
    n BIGINT := 0;
BEGIN
    FOR r IN SELECT id, audit_content_digest(a) AS content FROM audit_log a ORDER BY id LOOP
        n := n + 1;
        INSERT INTO audit_chain (seq, audit_id, prev_hash, hash)
            VALUES (n, r.id, prev, audit_link_hash(prev, n, r.content));
        prev := audit_link_hash(prev, n, r.content);
    END LOOP;
END $$;

ALTER TABLE audit_log DROP COLUMN prev_hash, DROP COLUMN hash;
