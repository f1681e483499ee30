ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('opening_balance', 'intake', 'distribution', 'transfer_out', 'transfer_in', 'adjustment'));
DELETE FROM inventory_transactions WHERE action IN ('RELEASE', 'RETURN');
ALTER TABLE inventory_transactions DROP CONSTRAINT inventory_transactions_action_check;
ALTER TABLE inventory_transactions ADD CONSTRAINT inventory_transactions_action_check
    CHECK (action IN ('RECEIVE', 'MOVE', 'UPDATE', 'RESERVE', 'SELL', 'DELETE'));
ALTER TABLE organisations DROP COLUMN currency;
ALTER TABLE organisations DROP COLUMN sales_tax_bp;
DROP TABLE invoices;
DROP FUNCTION invoices_immutable();
DROP TABLE invoice_series;
DROP TABLE sale_lines;
DROP TABLE sales;
