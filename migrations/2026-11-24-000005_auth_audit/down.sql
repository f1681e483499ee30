DROP FUNCTION audit_digest(audit_log);
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only(), audit_log_chain();
DROP TABLE api_tokens;
ALTER TABLE users DROP COLUMN permission_flags;
