ALTER TABLE operations DROP COLUMN refusal_code;
