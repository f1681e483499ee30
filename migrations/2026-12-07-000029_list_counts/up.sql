-- Lists' totals kept, not counted (issue 29): a hub's list says how many rows it holds from a few
-- counter rows, where counting read up to 10,001 of a year's rows on every load (the intakes
-- list at 100,000 intakes: 662 req/s against 4,480 on the demo world).
--
-- One row per list × hub × status × shard, kept by triggers in the transaction that writes the
-- row. As in `daily_figures`, `shard` is the writing backend, so two transactions at one hub never
-- wait for each other's counter; `fold_list_counts` folds the rows of backends that have gone
-- into shard 0. A list's total is the sum of its hub's rows (and of one status, when filtered).
CREATE TABLE list_counts (
    list    TEXT NOT NULL,
    hub_id  BIGINT NOT NULL,
    status  TEXT NOT NULL,
    shard   INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (list, hub_id, status, shard)
);

-- SECURITY DEFINER: totals are kept whichever role writes the row.
CREATE FUNCTION add_list_count(l TEXT, hub BIGINT, s TEXT, amount BIGINT) RETURNS void AS $$
    INSERT INTO public.list_counts (list, hub_id, status, shard, n)
    VALUES (l, hub, s, pg_backend_pid(), amount)
    ON CONFLICT (list, hub_id, status, shard) DO UPDATE SET n = list_counts.n + EXCLUDED.n
$$ LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- TG_ARGV[0] is the list; the others are the row's hub columns (a transfer is in the lists of
-- both its hubs). A row's status is its `status` column, '' for tables without one.
CREATE FUNCTION list_counts_row() RETURNS trigger AS $$
DECLARE
    was JSONB := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    is_ JSONB := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
BEGIN
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        IF was IS NOT NULL THEN
            PERFORM add_list_count(TG_ARGV[0], (was ->> TG_ARGV[i])::bigint, coalesce(was ->> 'status', ''), -1);
        END IF;
        IF is_ IS NOT NULL THEN
            PERFORM add_list_count(TG_ARGV[0], (is_ ->> TG_ARGV[i])::bigint, coalesce(is_ ->> 'status', ''), 1);
        END IF;
    END LOOP;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON intakes
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('intakes', 'hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF hub_id ON intakes
    FOR EACH ROW WHEN (OLD.hub_id IS DISTINCT FROM NEW.hub_id)
    EXECUTE FUNCTION list_counts_row('intakes', 'hub_id');
CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON stock_adjustments
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('stock_adjustments', 'hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF hub_id ON stock_adjustments
    FOR EACH ROW WHEN (OLD.hub_id IS DISTINCT FROM NEW.hub_id)
    EXECUTE FUNCTION list_counts_row('stock_adjustments', 'hub_id');
CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON distributions
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('distributions', 'hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF hub_id, status ON distributions
    FOR EACH ROW WHEN (OLD.hub_id IS DISTINCT FROM NEW.hub_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION list_counts_row('distributions', 'hub_id');
CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON needs_lists
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('needs_lists', 'hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF hub_id, status ON needs_lists
    FOR EACH ROW WHEN (OLD.hub_id IS DISTINCT FROM NEW.hub_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION list_counts_row('needs_lists', 'hub_id');
CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON sales
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('sales', 'hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF hub_id, status ON sales
    FOR EACH ROW WHEN (OLD.hub_id IS DISTINCT FROM NEW.hub_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION list_counts_row('sales', 'hub_id');
CREATE TRIGGER list_counts_row AFTER INSERT OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION list_counts_row('transfers', 'from_hub_id', 'to_hub_id');
CREATE TRIGGER list_counts_moved AFTER UPDATE OF from_hub_id, to_hub_id, status ON transfers
    FOR EACH ROW WHEN (OLD.from_hub_id IS DISTINCT FROM NEW.from_hub_id
                       OR OLD.to_hub_id IS DISTINCT FROM NEW.to_hub_id
                       OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION list_counts_row('transfers', 'from_hub_id', 'to_hub_id');

-- Folds the shards of backends that have ended into shard 0; returns the rows folded. A live
-- backend's rows stay (it may be adding to them); a row locked by a backend that took a
-- reused pid is skipped and folded next time.
CREATE FUNCTION fold_list_counts() RETURNS bigint AS $$
    WITH gone AS (
        DELETE FROM list_counts WHERE ctid IN (
            SELECT ctid FROM list_counts
            WHERE shard <> 0 AND shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
            FOR UPDATE SKIP LOCKED)
        RETURNING list, hub_id, status, n
    ), folded AS (
        INSERT INTO list_counts (list, hub_id, status, shard, n)
        SELECT list, hub_id, status, 0, sum(n) FROM gone GROUP BY 1, 2, 3
        ON CONFLICT (list, hub_id, status, shard) DO UPDATE SET n = list_counts.n + EXCLUDED.n
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$ LANGUAGE sql;

-- The rows written before this migration, once.
INSERT INTO list_counts (list, hub_id, status, shard, n)
SELECT list, hub_id, status, 0, sum(n) FROM (
    SELECT 'intakes' AS list, hub_id, '' AS status, count(*) AS n FROM intakes GROUP BY 2
    UNION ALL SELECT 'stock_adjustments', hub_id, '', count(*) FROM stock_adjustments GROUP BY 2
    UNION ALL SELECT 'distributions', hub_id, status, count(*) FROM distributions GROUP BY 2, 3
    UNION ALL SELECT 'needs_lists', hub_id, status, count(*) FROM needs_lists GROUP BY 2, 3
    UNION ALL SELECT 'sales', hub_id, status, count(*) FROM sales GROUP BY 2, 3
    UNION ALL SELECT 'transfers', from_hub_id, status, count(*) FROM transfers GROUP BY 2, 3
    UNION ALL SELECT 'transfers', to_hub_id, status, count(*) FROM transfers GROUP BY 2, 3
) AS rows_now
GROUP BY 1, 2, 3;

-- Keyset pages in the lists' default order (newest first, the id breaking ties), and with a
-- status filter (a hub's drafts).
DROP INDEX distributions_hub_idx;
CREATE INDEX distributions_hub_idx ON distributions (hub_id, created_at DESC, id DESC);
CREATE INDEX distributions_hub_status_idx ON distributions (hub_id, status, created_at DESC, id DESC);
CREATE INDEX needs_lists_hub_idx ON needs_lists (hub_id, created_at DESC, id DESC);
CREATE INDEX needs_lists_hub_status_idx ON needs_lists (hub_id, status, created_at DESC, id DESC);
DROP INDEX stock_adjustments_hub_idx;
CREATE INDEX stock_adjustments_hub_idx ON stock_adjustments (hub_id, created_at DESC, id DESC);
DROP INDEX sales_hub_idx;
CREATE INDEX sales_hub_idx ON sales (hub_id, created_at DESC, id DESC);
CREATE INDEX sales_hub_status_idx ON sales (hub_id, status, created_at DESC, id DESC);
-- Lists across hubs (the sales of all of a manager's hubs; a hub's transfers, out and in) walk
-- the newest rows of all hubs and keep their own: no sort of a year of rows.
CREATE INDEX sales_created_idx ON sales (created_at DESC, id DESC);
CREATE INDEX transfers_created_idx ON transfers (created_at DESC, id DESC);
