-- The refused entry an operation was sent to correct (issue 30). Kept so that when a correction
-- is refused too and corrected again, the attempt that applies closes the whole chain.
ALTER TABLE operations ADD COLUMN corrects uuid;
