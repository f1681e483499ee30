-- The catalog in the three layers of the USAV design: family → identity (immutable, UPIS-H)
-- → variant (sellable SKU). Derived identifiers are computed by the database so no code path
-- can make them drift.
CREATE TABLE product_families (
    product_id INTEGER PRIMARY KEY CHECK (product_id BETWEEN 1 AND 99999),
    base_name  TEXT NOT NULL CHECK (length(trim(base_name)) > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE product_identities (
    id               BIGSERIAL PRIMARY KEY,
    product_id       INTEGER NOT NULL REFERENCES product_families(product_id),
    type             TEXT NOT NULL CHECK (type ~ '^[A-Z]$'),
    lci              INTEGER NOT NULL CHECK (lci BETWEEN 1 AND 999),
    physical_class   TEXT NOT NULL CHECK (physical_class ~ '^[A-Z]$'),
    generated_upis_h TEXT NOT NULL UNIQUE,
    hex_signature    TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (product_id, type, lci)
);

CREATE FUNCTION product_identity_derive() RETURNS trigger AS $$
BEGIN
    NEW.generated_upis_h := lpad(NEW.product_id::text, 5, '0') || '-' || NEW.type || '-' || NEW.lci::text;
    NEW.hex_signature := encode(sha256(convert_to(NEW.generated_upis_h || '|' || NEW.physical_class, 'UTF8')), 'hex');
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER product_identity_derive BEFORE INSERT OR UPDATE ON product_identities
    FOR EACH ROW EXECUTE FUNCTION product_identity_derive();

CREATE TABLE product_variants (
    id               BIGSERIAL PRIMARY KEY,
    identity_id      BIGINT NOT NULL REFERENCES product_identities(id),
    color_code       TEXT NOT NULL CHECK (color_code IN ('BK', 'WH', 'WY', 'GY', 'SL', 'RD', 'BL', 'GN', 'BR', 'NA')),
    condition_code   TEXT NOT NULL CHECK (condition_code IN ('N', 'R', 'U', 'D')),
    full_sku         TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    unit             TEXT NOT NULL DEFAULT 'each',
    listing_price_cents BIGINT NOT NULL CHECK (listing_price_cents >= 0),
    cost_cents       BIGINT CHECK (cost_cents >= 0),
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    zoho_sync_status TEXT NOT NULL DEFAULT 'PENDING' CHECK (zoho_sync_status IN ('PENDING', 'DIRTY', 'SYNCED', 'ERROR')),
    zoho_item_id     TEXT,
    zoho_last_error  TEXT,
    zoho_synced_at   TIMESTAMPTZ,
    version          INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (identity_id, color_code, condition_code)
);
CREATE INDEX product_variants_sync_idx ON product_variants (zoho_sync_status) WHERE zoho_sync_status <> 'SYNCED';

CREATE FUNCTION product_variant_derive_sku() RETURNS trigger AS $$
BEGIN
    SELECT generated_upis_h || '-' || NEW.color_code || '-' || NEW.condition_code
      INTO NEW.full_sku FROM product_identities WHERE id = NEW.identity_id;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER product_variant_derive_sku BEFORE INSERT OR UPDATE OF identity_id, color_code, condition_code
    ON product_variants FOR EACH ROW EXECUTE FUNCTION product_variant_derive_sku();
