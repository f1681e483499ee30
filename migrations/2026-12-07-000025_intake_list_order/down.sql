DROP INDEX intakes_hub_received_idx;
