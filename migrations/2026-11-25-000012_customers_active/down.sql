ALTER TABLE customers DROP COLUMN active;
