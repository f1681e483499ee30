-- Sync Issues close (issue 30, finding 2): an entry refused and then sent again corrected is
-- settled by the corrected one ('corrected'); its author may also set it aside ('dismissed').
ALTER TABLE operations DROP CONSTRAINT operations_resolution_check;
ALTER TABLE operations ADD CONSTRAINT operations_resolution_check
    CHECK (resolution IN ('accepted', 'kept_server', 'edited', 'shown_on_form', 'corrected', 'dismissed'));
