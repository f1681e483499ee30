-- A pull pages a caller's own operations in (received_at, id) order (issue 29): a device that
-- pulls since 0 after a year read all of its user's operations and sorted them, and got them in
-- one answer. This index gives a page as the rows it holds.
CREATE INDEX operations_actor_received_idx ON operations (actor_id, received_at, id);
