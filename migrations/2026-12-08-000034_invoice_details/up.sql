-- Issue 30, finding 11: what an invoice needs besides its lines. The seller's address and tax
-- id and the payment terms are the organisation's; each sale gets a number people can quote
-- (the invoice printed a fragment of its UUID).
ALTER TABLE organisations
    ADD COLUMN address TEXT NOT NULL DEFAULT '' CHECK (length(address) <= 500),
    ADD COLUMN tax_id TEXT NOT NULL DEFAULT '' CHECK (length(tax_id) <= 64),
    ADD COLUMN payment_terms_days INT NOT NULL DEFAULT 30
        CHECK (payment_terms_days BETWEEN 0 AND 365);

-- Sale numbers need not be gapless (invoice numbers are, in their own series): a sequence,
-- "S-000123", wider when it must be.
CREATE SEQUENCE sales_number_seq;
CREATE FUNCTION next_sale_number() RETURNS text LANGUAGE sql AS $$
    SELECT 'S-' || lpad(n::text, greatest(6, length(n::text)), '0')
      FROM (SELECT nextval('sales_number_seq') AS n) s
$$;
ALTER TABLE sales ADD COLUMN number TEXT;
UPDATE sales SET number = next_sale_number()
    WHERE id IN (SELECT id FROM sales ORDER BY created_at, id);
ALTER TABLE sales ALTER COLUMN number SET DEFAULT next_sale_number(),
    ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX sales_number_key ON sales (number);
