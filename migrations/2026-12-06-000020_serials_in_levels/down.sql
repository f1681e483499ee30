-- The ledger is append-only: the items' share is taken out again by rows of its own.
DROP INDEX inventory_items_in_stock_idx;
INSERT INTO stock_ledger (hub_id, variant_id, delta, reason)
SELECT hub_id, variant_id, -count(*), 'serial_opening'
FROM inventory_items WHERE status IN ('AVAILABLE', 'RESERVED')
GROUP BY hub_id, variant_id;
UPDATE stock_levels l SET quantity = l.quantity - s.n, updated_at = now()
FROM (SELECT hub_id, variant_id, count(*) AS n FROM inventory_items
      WHERE status IN ('AVAILABLE', 'RESERVED') GROUP BY hub_id, variant_id) s
WHERE s.hub_id = l.hub_id AND s.variant_id = l.variant_id;
