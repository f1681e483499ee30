-- Going back loses where in-transit and missing items are, so it is refused while any exist.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM inventory_items WHERE status IN ('IN_TRANSIT', 'MISSING'))
       OR EXISTS (SELECT 1 FROM inventory_transactions WHERE action IN ('TRANSFER_OUT', 'TRANSFER_IN', 'LOST')) THEN
        RAISE EXCEPTION 'serial-numbered items have travelled between hubs; this migration cannot be undone';
    END IF;
END $$;
DROP TABLE transfer_line_items;
ALTER TABLE inventory_transactions DROP CONSTRAINT inventory_transactions_action_check;
ALTER TABLE inventory_transactions ADD CONSTRAINT inventory_transactions_action_check
    CHECK (action IN ('RECEIVE', 'MOVE', 'UPDATE', 'RESERVE', 'RELEASE', 'SELL', 'RETURN', 'DELETE'));
ALTER TABLE inventory_items DROP CONSTRAINT inventory_items_status_check;
ALTER TABLE inventory_items ADD CONSTRAINT inventory_items_status_check
    CHECK (status IN ('AVAILABLE', 'RESERVED', 'SOLD'));
