-- A customer can be deactivated (kept for history, no longer offered for new sales).
ALTER TABLE customers ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
