-- A customer user's home page lists the latest audit rows of their account (or their own):
-- without an index on the customer the planner read the whole log (issue 29's scan test).
CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, id) WHERE customer_id IS NOT NULL;
