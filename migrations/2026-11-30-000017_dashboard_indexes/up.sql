-- The dashboard reloads on every event in scope (issue 14): its trends and counters must read
-- only the rows they show. Profile: at 35,000 operations, one dashboard took ~20 ms of
-- PostgreSQL time scanning operations, stock_ledger and badge_copies whole (51 pages/s at 50
-- connections).
CREATE INDEX operations_hub_received_idx ON operations (hub_id, received_at);
CREATE INDEX operations_own_issues_idx ON operations (actor_id)
    WHERE status IN ('rejected', 'conflict', 'pending_review') AND resolved_at IS NULL;
CREATE INDEX stock_ledger_hub_created_idx ON stock_ledger (hub_id, created_at);
CREATE INDEX badge_copies_hub_finished_idx ON badge_copies (hub_id, finished_at) WHERE status = 'completed';
