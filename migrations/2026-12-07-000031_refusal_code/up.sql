-- Why a rejected operation was refused, in the pipeline's one vocabulary (`RefusalCode`), kept
-- with the operation: a duplicate of it (a device that never heard the answer sends it again)
-- answers with the same refusal, the same HTTP status through the REST API, as the first time.
-- NULL for every other status and for a rejection of bad input.
ALTER TABLE operations ADD COLUMN refusal_code TEXT
    CHECK (refusal_code IN ('not_found', 'clash', 'forbidden', 'quota'));
ALTER TABLE operations ADD CONSTRAINT operations_refusal_code_rejected
    CHECK (refusal_code IS NULL OR status = 'rejected');
