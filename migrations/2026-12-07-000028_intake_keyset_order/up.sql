-- The intakes list pages by keyset: `(received_on, created_at, id) < (…)`, every column in one
-- direction. With the id ascending in the index the row comparison could not bound the scan on
-- its last column, nor the order be read from the index without a sort of each tie.
DROP INDEX intakes_hub_received_idx;
CREATE INDEX intakes_hub_received_idx ON intakes (hub_id, received_on DESC, created_at DESC, id DESC);
