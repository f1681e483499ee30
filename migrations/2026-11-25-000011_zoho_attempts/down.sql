DROP TRIGGER product_variants_reset_zoho_attempts ON product_variants;
DROP FUNCTION product_variants_reset_zoho_attempts();
ALTER TABLE product_variants DROP COLUMN zoho_attempts;
