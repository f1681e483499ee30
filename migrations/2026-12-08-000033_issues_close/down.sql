UPDATE operations SET resolution = NULL, resolved_at = NULL, resolved_by = NULL
    WHERE resolution IN ('corrected', 'dismissed');
ALTER TABLE operations DROP CONSTRAINT operations_resolution_check;
ALTER TABLE operations ADD CONSTRAINT operations_resolution_check
    CHECK (resolution IN ('accepted', 'kept_server', 'edited', 'shown_on_form'));
