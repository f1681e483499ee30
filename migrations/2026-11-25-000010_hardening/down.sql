ALTER TABLE users DROP COLUMN sessions_valid_after;
ALTER TABLE outbox DROP COLUMN claimed_until;
DROP INDEX operations_device_idx;
ALTER TABLE devices DROP COLUMN lost;
ALTER TABLE devices DROP COLUMN counted_before;
ALTER TABLE devices DROP COLUMN discarded_count;
ALTER TABLE devices DROP CONSTRAINT devices_pkey;
ALTER TABLE devices ADD PRIMARY KEY (id);
ALTER TABLE operations DROP COLUMN field_errors;
