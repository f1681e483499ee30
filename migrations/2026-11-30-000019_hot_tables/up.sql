-- Tables rewritten all the time. A stock level is updated by every intake, distribution and
-- sale of its item at its hub; the audit queue and the outbox take a row and lose it for every
-- operation. With the defaults, autovacuum reached them after a fifth of the table had died,
-- which for a table of a few hundred live rows is soon but, with its one-minute nap, meant tens
-- of thousands of dead versions in between: a profile of the sync ingest showed the stock-level
-- upsert at 0.47 ms a statement (0.2 ms after a VACUUM) and the sealing query walking the dead
-- queue entries. These tables are vacuumed after a fixed number of dead rows, and stock levels
-- keep half of each page free so an update's new version stays on its page (a HOT update) and
-- the page is pruned before the chain of old versions grows long.
ALTER TABLE stock_levels SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE audit_pending SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);
