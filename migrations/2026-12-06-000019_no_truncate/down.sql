DROP TRIGGER operations_no_truncate ON operations;
DROP TRIGGER stock_ledger_no_truncate ON stock_ledger;
DROP TRIGGER invoices_no_truncate ON invoices;
DROP FUNCTION refuse_truncate();
