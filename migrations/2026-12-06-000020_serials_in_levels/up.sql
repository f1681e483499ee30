-- Serial-numbered items are part of their hub's level (issue 27): an item counts while it is in
-- stock (AVAILABLE or RESERVED), so a level is bulk units + items in stock, and the ledger says
-- so. Receiving an item, selling it, returning it and deleting it write ledger rows like every
-- other movement; the items already in stock are booked in once here, as 'serial_opening'.
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('opening_balance', 'intake', 'distribution', 'transfer_out', 'transfer_in',
                      'adjustment', 'sale', 'sale_return', 'serial_opening', 'serial_receive',
                      'serial_delete'));

INSERT INTO stock_ledger (hub_id, variant_id, delta, reason)
SELECT hub_id, variant_id, count(*), 'serial_opening'
FROM inventory_items WHERE status IN ('AVAILABLE', 'RESERVED')
GROUP BY hub_id, variant_id;

INSERT INTO stock_levels (hub_id, variant_id, quantity)
SELECT hub_id, variant_id, count(*)
FROM inventory_items WHERE status IN ('AVAILABLE', 'RESERVED')
GROUP BY hub_id, variant_id
ON CONFLICT (hub_id, variant_id) DO UPDATE
    SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now();

-- A hub's items of one SKU in stock are counted on every bulk decrease (a bulk unit may not be
-- taken from what the serial-numbered items make up).
CREATE INDEX inventory_items_in_stock_idx ON inventory_items (hub_id, variant_id)
    WHERE status IN ('AVAILABLE', 'RESERVED');
