DROP INDEX audit_log_customer_idx;
