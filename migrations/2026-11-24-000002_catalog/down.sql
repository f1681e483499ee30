DROP TABLE product_variants, product_identities, product_families;
DROP FUNCTION product_variant_derive_sku(), product_identity_derive();
