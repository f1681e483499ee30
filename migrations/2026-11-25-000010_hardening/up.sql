-- Operations that did not validate are kept too (Sync Issues shows them, the author can fix
-- and resend them); their per-field problems are stored here. Such an operation changed
-- nothing, so a later operation with the same op id may take its place.
ALTER TABLE operations ADD COLUMN field_errors JSONB;

-- A device belongs to its user: the same browser used by two people is two device records,
-- and reporting another user's device id changes nothing of theirs.
ALTER TABLE devices DROP CONSTRAINT devices_pkey;
ALTER TABLE devices ADD PRIMARY KEY (user_id, id);
-- Queue accounting: entries created on the device (highest_seq), discarded there on purpose,
-- created in earlier lives of its storage, and already reported lost.
ALTER TABLE devices ADD COLUMN discarded_count BIGINT NOT NULL DEFAULT 0 CHECK (discarded_count >= 0);
ALTER TABLE devices ADD COLUMN counted_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN lost BIGINT NOT NULL DEFAULT 0;
CREATE INDEX operations_device_idx ON operations (actor_id, device_id) WHERE device_id IS NOT NULL;

-- Outbox rows are claimed for a short while by one publisher (any process) before they are
-- sent; a publisher that dies leaves its claim to expire and another takes the rows over.
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;

-- A password reset (from the admin pages or the command line) ends every session started
-- before it, even when Redis cannot be reached from where the reset ran.
ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMPTZ;
