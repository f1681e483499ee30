-- Per-user permission flags (sales seed). Only a JSON `true` grants a flag: missing, null or
-- anything unreadable means NO.
ALTER TABLE users ADD COLUMN permission_flags JSONB NOT NULL DEFAULT '{}'::jsonb;

-- API tokens for scripts, the sync API and NFC stations. Only a SHA-256 of each token is stored.
CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'station')),
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     BIGINT REFERENCES users(id) ON DELETE CASCADE,
    station_id  BIGINT REFERENCES nfc_stations(id) ON DELETE CASCADE,
    -- Access and refresh tokens issued together, and every rotation after, share a family:
    -- reuse of a rotated refresh token revokes the whole family.
    family      UUID NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    CHECK ((kind = 'station') = (station_id IS NOT NULL)),
    CHECK ((kind = 'station') OR user_id IS NOT NULL)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
CREATE INDEX api_tokens_family_idx ON api_tokens (family);

-- The audit trail: append-only, each row chained to the previous by a SHA-256 hash so that a
-- row changed behind the database's back (trigger disabled by a superuser) is detectable.
CREATE TABLE audit_log (
    id               BIGSERIAL PRIMARY KEY,
    occurred_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id         BIGINT REFERENCES users(id),
    actor_name       TEXT,
    role_at_capture  TEXT,
    role_at_apply    TEXT,
    action           TEXT NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    object_type      TEXT,
    object_id        TEXT,
    before           JSONB,
    after            JSONB,
    offline          BOOLEAN NOT NULL DEFAULT FALSE,
    operation_id     UUID,
    outcome          TEXT NOT NULL DEFAULT 'applied',
    hub_id           BIGINT REFERENCES hubs(id),
    customer_id      BIGINT REFERENCES customers(id),
    client_addr      TEXT,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_hub_idx ON audit_log (hub_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);

-- The canonical text of a row that the hash covers. Timestamps are rendered in UTC so the
-- session's TimeZone cannot change the digest.
CREATE FUNCTION audit_digest(a audit_log) RETURNS TEXT AS $$
    SELECT encode(sha256(convert_to(concat_ws('|',
        a.prev_hash, a.id::text,
        to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        coalesce(a.actor_id::text, ''), coalesce(a.actor_name, ''),
        coalesce(a.role_at_capture, ''), coalesce(a.role_at_apply, ''),
        a.action, coalesce(a.object_type, ''), coalesce(a.object_id, ''),
        coalesce(a.before::text, ''), coalesce(a.after::text, ''),
        a.offline::text, coalesce(a.operation_id::text, ''), a.outcome,
        coalesce(a.hub_id::text, ''), coalesce(a.customer_id::text, ''), coalesce(a.client_addr, '')
    ), 'UTF8')), 'hex')
$$ LANGUAGE sql IMMUTABLE;

CREATE FUNCTION audit_log_chain() RETURNS trigger AS $$
BEGIN
    -- One writer at a time extends the chain; the lock is released at commit.
    PERFORM pg_advisory_xact_lock(7270811);
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, 'genesis');
    NEW.occurred_at := coalesce(NEW.occurred_at, now());
    NEW.hash := audit_digest(NEW);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
