DROP INDEX intakes_hub_received_idx;
CREATE INDEX intakes_hub_received_idx ON intakes (hub_id, received_on DESC, created_at DESC, id);
