-- Serialized warehouse inventory (the USAV design's physical layer): one row per physical item,
-- unique by serial number, at a hub and a shelf location, AVAILABLE → RESERVED → SOLD.
CREATE TABLE inventory_items (
    id               BIGSERIAL PRIMARY KEY,
    serial_number    TEXT NOT NULL CHECK (serial_number ~ '^[A-Za-z0-9._/-]{1,64}$'),
    variant_id       BIGINT NOT NULL REFERENCES product_variants(id),
    hub_id           BIGINT NOT NULL REFERENCES hubs(id),
    location_code    TEXT NOT NULL CHECK (location_code ~ '^[A-Za-z0-9._-]{1,32}$'),
    status           TEXT NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'RESERVED', 'SOLD')),
    cost_basis_cents BIGINT CHECK (cost_basis_cents >= 0),
    sale_price_cents BIGINT CHECK (sale_price_cents >= 0),
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Two concurrent receives of one serial cannot both succeed.
CREATE UNIQUE INDEX inventory_items_serial_key ON inventory_items (upper(serial_number));
CREATE INDEX inventory_items_variant_idx ON inventory_items (variant_id, status);
CREATE INDEX inventory_items_hub_idx ON inventory_items (hub_id, id);

-- The INVENTORY_TRANSACTION log: every inventory action with the user who made it.
CREATE TABLE inventory_transactions (
    id            BIGSERIAL PRIMARY KEY,
    item_id       BIGINT REFERENCES inventory_items(id) ON DELETE SET NULL,
    serial_number TEXT NOT NULL,
    variant_id    BIGINT NOT NULL REFERENCES product_variants(id),
    hub_id        BIGINT NOT NULL REFERENCES hubs(id),
    action        TEXT NOT NULL CHECK (action IN ('RECEIVE', 'MOVE', 'UPDATE', 'RESERVE', 'SELL', 'DELETE')),
    from_location TEXT,
    to_location   TEXT,
    details       JSONB,
    user_id       BIGINT NOT NULL REFERENCES users(id),
    operation_id  UUID REFERENCES operations(id),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inventory_transactions_serial_idx ON inventory_transactions (upper(serial_number), id);
CREATE INDEX inventory_transactions_item_idx ON inventory_transactions (item_id, id);
