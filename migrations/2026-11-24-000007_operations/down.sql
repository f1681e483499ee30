DROP TABLE devices, transfer_lines, transfers, needs_list_lines, needs_lists, distribution_lines, distributions, intake_lines, intakes;
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_operation_fk;
DROP TABLE outbox, operations;
