GRANT UPDATE, DELETE ON audit_log, audit_chain, stock_ledger, inventory_transactions TO outpost_app;
GRANT DELETE ON operations TO outpost_app;
DROP TRIGGER inventory_transactions_no_truncate ON inventory_transactions;
DROP TRIGGER inventory_transactions_stay ON inventory_transactions;
DROP FUNCTION item_history_stays();
DROP TRIGGER operations_capture_stays ON operations;
DROP FUNCTION operations_capture_stays();
