-- Serial-numbered items travel between hubs by serial number (issue 27). A dispatched item is
-- IN_TRANSIT (out of the sender's level, not yet in the receiver's); at receipt it is at the
-- receiving hub and AVAILABLE again, or MISSING when it did not arrive (the transfer's
-- discrepancy note says so). Which items went on which line is kept per transfer.
ALTER TABLE inventory_items DROP CONSTRAINT inventory_items_status_check;
ALTER TABLE inventory_items ADD CONSTRAINT inventory_items_status_check
    CHECK (status IN ('AVAILABLE', 'RESERVED', 'SOLD', 'IN_TRANSIT', 'MISSING'));

ALTER TABLE inventory_transactions DROP CONSTRAINT inventory_transactions_action_check;
ALTER TABLE inventory_transactions ADD CONSTRAINT inventory_transactions_action_check
    CHECK (action IN ('RECEIVE', 'MOVE', 'UPDATE', 'RESERVE', 'RELEASE', 'SELL', 'RETURN', 'DELETE',
                      'TRANSFER_OUT', 'TRANSFER_IN', 'LOST'));

CREATE TABLE transfer_line_items (
    transfer_id UUID NOT NULL,
    line_no     INTEGER NOT NULL,
    item_id     BIGINT NOT NULL REFERENCES inventory_items(id) ON DELETE RESTRICT,
    -- NULL while in transit; then whether it arrived.
    arrived     BOOLEAN,
    PRIMARY KEY (transfer_id, item_id),
    FOREIGN KEY (transfer_id, line_no) REFERENCES transfer_lines (transfer_id, line_no)
);
CREATE INDEX transfer_line_items_item_idx ON transfer_line_items (item_id);
