-- Issued invoices, the stock ledger and the operations log are records. Row triggers already
-- refuse UPDATE/DELETE where a record must not change, but TRUNCATE fires no row trigger: it is
-- refused by a statement trigger too, as audit_log's is (issue 27: `TRUNCATE invoices` by the
-- server's own role wiped every issued invoice).
CREATE FUNCTION refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is a record and cannot be truncated', TG_TABLE_NAME;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER stock_ledger_no_truncate BEFORE TRUNCATE ON stock_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER operations_no_truncate BEFORE TRUNCATE ON operations
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
