DROP TABLE stock_levels, stock_ledger;
DROP FUNCTION stock_ledger_append_only();
