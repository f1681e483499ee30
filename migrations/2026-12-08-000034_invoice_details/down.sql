DROP INDEX sales_number_key;
ALTER TABLE sales DROP COLUMN number;
DROP FUNCTION next_sale_number();
DROP SEQUENCE sales_number_seq;
ALTER TABLE organisations DROP COLUMN address, DROP COLUMN tax_id, DROP COLUMN payment_terms_days;
