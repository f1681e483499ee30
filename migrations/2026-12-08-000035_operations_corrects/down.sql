ALTER TABLE operations DROP COLUMN corrects;
