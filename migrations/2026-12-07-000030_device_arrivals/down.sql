CREATE INDEX operations_device_idx ON operations (actor_id, device_id) WHERE device_id IS NOT NULL;
DROP TRIGGER device_arrivals_moved ON operations;
DROP TRIGGER device_arrivals_insert ON operations;
DROP FUNCTION device_arrivals_count();
DROP TABLE device_arrivals;
