-- What was captured stays as captured (issue 27, found by an independent tester: the server's
-- own role could rewrite an operation's payload or author, delete rejected operations, and
-- wipe the items' history). An operation's outcome and its review change; what was sent, by
-- whom, when and from where never does, and no operation is deleted. The one exception is the
-- pipeline's: an operation refused as invalid (field_errors set at its claim) changed nothing,
-- and a corrected resend with the same op id takes its row over; field_errors is never set
-- afterwards, so no valid operation can be made one. An item's history is
-- appended to only (deleting the item clears its link, as the foreign key says, and nothing
-- else). The server's role also loses UPDATE and DELETE where triggers already refuse them,
-- so it cannot lock those tables against the writers either.
CREATE FUNCTION operations_capture_stays() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'operations are a record and cannot be deleted';
    END IF;
    IF OLD.field_errors IS NULL AND NEW.field_errors IS NOT NULL THEN
        RAISE EXCEPTION 'an operation is found invalid when it is claimed, not afterwards';
    END IF;
    IF OLD.field_errors IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.actor_id, NEW.op_id, NEW.kind, NEW.payload, NEW.hub_id, NEW.record_id,
        NEW.base_version, NEW.captured_at, NEW.received_at, NEW.device_id, NEW.offline,
        NEW.role_at_capture, NEW.role_at_apply)
       IS DISTINCT FROM
       (OLD.id, OLD.actor_id, OLD.op_id, OLD.kind, OLD.payload, OLD.hub_id, OLD.record_id,
        OLD.base_version, OLD.captured_at, OLD.received_at, OLD.device_id, OLD.offline,
        OLD.role_at_capture, OLD.role_at_apply) THEN
        RAISE EXCEPTION 'what an operation captured cannot be changed; only its outcome and review can';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER operations_capture_stays BEFORE UPDATE OR DELETE ON operations
    FOR EACH ROW EXECUTE FUNCTION operations_capture_stays();

CREATE FUNCTION item_history_stays() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.item_id IS NOT NULL AND NEW.item_id IS NULL
       AND (to_jsonb(NEW) - 'item_id') = (to_jsonb(OLD) - 'item_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an item''s history is a record and cannot be changed';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER inventory_transactions_stay BEFORE UPDATE OR DELETE ON inventory_transactions
    FOR EACH ROW EXECUTE FUNCTION item_history_stays();
CREATE TRIGGER inventory_transactions_no_truncate BEFORE TRUNCATE ON inventory_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

REVOKE UPDATE, DELETE ON audit_log, audit_chain, stock_ledger, inventory_transactions FROM outpost_app;
REVOKE DELETE ON operations FROM outpost_app;
