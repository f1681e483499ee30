-- Published outbox rows are pruned after the retention window (OUTPOST_OUTBOX_KEEP_HOURS): the
-- prune finds the oldest published rows by this index instead of reading the whole table.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
