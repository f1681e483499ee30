-- Hub stock: an append-only ledger of deltas, and the current level per hub and item kept in
-- step with it in the same transaction (rebuildable from the ledger).
CREATE TABLE stock_ledger (
    id           BIGSERIAL PRIMARY KEY,
    hub_id       BIGINT NOT NULL REFERENCES hubs(id),
    variant_id   BIGINT NOT NULL REFERENCES product_variants(id),
    delta        BIGINT NOT NULL CHECK (delta <> 0),
    reason       TEXT NOT NULL CHECK (reason IN ('opening_balance', 'intake', 'distribution', 'transfer_out',
                     'transfer_in', 'adjustment')),
    operation_id UUID,
    actor_id     BIGINT REFERENCES users(id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stock_ledger_hub_variant_idx ON stock_ledger (hub_id, variant_id);

CREATE FUNCTION stock_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock_ledger is append-only';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER stock_ledger_append_only BEFORE UPDATE OR DELETE ON stock_ledger
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_append_only();

CREATE TABLE stock_levels (
    hub_id        BIGINT NOT NULL REFERENCES hubs(id),
    variant_id    BIGINT NOT NULL REFERENCES product_variants(id),
    quantity      BIGINT NOT NULL CHECK (quantity >= 0),
    reorder_level BIGINT NOT NULL DEFAULT 0 CHECK (reorder_level >= 0),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (hub_id, variant_id)
);
