-- Stock adjustments: a person counted an item at a hub (or found it damaged, expired, lost, or
-- found more) and the level is set to what they counted. `counted_against` is the level they
-- saw when they counted; the change is counted - counted_against, applied only while the level
-- is still that (otherwise the adjustment is a conflict for review, see docs/architecture.md).
CREATE TABLE stock_adjustments (
    id              UUID PRIMARY KEY,
    hub_id          BIGINT NOT NULL REFERENCES hubs(id),
    variant_id      BIGINT NOT NULL REFERENCES product_variants(id),
    counted_against BIGINT NOT NULL CHECK (counted_against >= 0),
    counted         BIGINT NOT NULL CHECK (counted >= 0),
    delta           BIGINT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('count', 'damaged', 'expired', 'lost', 'found', 'correction')),
    note            TEXT CHECK (length(note) <= 500),
    created_by      BIGINT NOT NULL REFERENCES users(id),
    operation_id    UUID NOT NULL REFERENCES operations(id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (delta = counted - counted_against)
);
CREATE INDEX stock_adjustments_hub_idx ON stock_adjustments (hub_id, created_at DESC);
