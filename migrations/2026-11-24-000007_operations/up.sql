-- Every write is an operation. One row per (actor, client op id): the idempotency key, claimed
-- inside the transaction that applies the operation, so concurrent duplicates cannot both apply.
CREATE TABLE operations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    actor_id        BIGINT NOT NULL REFERENCES users(id),
    op_id           UUID NOT NULL,
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL,
    hub_id          BIGINT REFERENCES hubs(id),
    -- The client-generated id of the record the operation creates or acts on.
    record_id       UUID,
    base_version    INTEGER,
    captured_at     TIMESTAMPTZ NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    device_id       TEXT,
    offline         BOOLEAN NOT NULL DEFAULT FALSE,
    role_at_capture TEXT,
    role_at_apply   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('applied', 'rejected', 'conflict', 'pending_review')),
    reason          TEXT,
    server_id       TEXT,
    server_state    JSONB,
    -- Field names an applied edit changed, and the version it produced (for field merges).
    changed_fields  TEXT[] NOT NULL DEFAULT '{}',
    result_version  INTEGER,
    resolved_at     TIMESTAMPTZ,
    resolved_by     BIGINT REFERENCES users(id),
    resolution      TEXT CHECK (resolution IN ('accepted', 'kept_server', 'edited')),
    UNIQUE (actor_id, op_id)
);
CREATE INDEX operations_review_idx ON operations (hub_id, status) WHERE status IN ('conflict', 'pending_review', 'rejected') AND resolved_at IS NULL;
CREATE INDEX operations_record_idx ON operations (record_id);

-- Events and jobs to publish after commit. Written in the same transaction as the change, so a
-- Redis outage delays them but never loses them; a sweeper publishes what is left.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    topic        TEXT NOT NULL,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_operation_fk FOREIGN KEY (operation_id) REFERENCES operations(id);

-- Intake: stock received at a hub (donations, procurement).
CREATE TABLE intakes (
    id           UUID PRIMARY KEY,
    hub_id       BIGINT NOT NULL REFERENCES hubs(id),
    donor        TEXT NOT NULL CHECK (length(trim(donor)) BETWEEN 1 AND 200),
    reference    TEXT,
    received_on  DATE NOT NULL,
    created_by   BIGINT NOT NULL REFERENCES users(id),
    operation_id UUID NOT NULL REFERENCES operations(id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX intakes_hub_idx ON intakes (hub_id, created_at DESC);
CREATE TABLE intake_lines (
    intake_id  UUID NOT NULL REFERENCES intakes(id),
    line_no    INTEGER NOT NULL,
    variant_id BIGINT NOT NULL REFERENCES product_variants(id),
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    expiry_on  DATE,
    lot        TEXT,
    PRIMARY KEY (intake_id, line_no)
);

-- Distribution: stock out to recipients; a draft until confirmed (irreversible).
CREATE TABLE distributions (
    id           UUID PRIMARY KEY,
    hub_id       BIGINT NOT NULL REFERENCES hubs(id),
    recipient    TEXT NOT NULL CHECK (length(trim(recipient)) BETWEEN 1 AND 200),
    notes        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    version      INTEGER NOT NULL DEFAULT 1,
    created_by   BIGINT NOT NULL REFERENCES users(id),
    confirmed_by BIGINT REFERENCES users(id),
    confirmed_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX distributions_hub_idx ON distributions (hub_id, created_at DESC);
CREATE TABLE distribution_lines (
    distribution_id UUID NOT NULL REFERENCES distributions(id),
    line_no         INTEGER NOT NULL,
    variant_id      BIGINT NOT NULL REFERENCES product_variants(id),
    quantity        BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (distribution_id, line_no)
);

-- Needs lists: a sub or agency hub asks for stock; a logistics manager decides.
CREATE TABLE needs_lists (
    id           UUID PRIMARY KEY,
    hub_id       BIGINT NOT NULL REFERENCES hubs(id),
    title        TEXT NOT NULL CHECK (length(trim(title)) BETWEEN 1 AND 200),
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'approved', 'rejected')),
    version      INTEGER NOT NULL DEFAULT 1,
    created_by   BIGINT NOT NULL REFERENCES users(id),
    submitted_at TIMESTAMPTZ,
    decided_by   BIGINT REFERENCES users(id),
    decided_at   TIMESTAMPTZ,
    decision_note TEXT,
    transfer_id  UUID,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE needs_list_lines (
    needs_list_id UUID NOT NULL REFERENCES needs_lists(id),
    line_no       INTEGER NOT NULL,
    variant_id    BIGINT NOT NULL REFERENCES product_variants(id),
    requested_qty BIGINT NOT NULL CHECK (requested_qty > 0),
    approved_qty  BIGINT CHECK (approved_qty >= 0),
    PRIMARY KEY (needs_list_id, line_no)
);

-- Transfers between hubs: requested → approved → dispatched → received (possibly partly).
CREATE TABLE transfers (
    id            UUID PRIMARY KEY,
    from_hub_id   BIGINT NOT NULL REFERENCES hubs(id),
    to_hub_id     BIGINT NOT NULL REFERENCES hubs(id) CHECK (to_hub_id <> from_hub_id),
    status        TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'dispatched', 'received', 'cancelled')),
    needs_list_id UUID REFERENCES needs_lists(id),
    version       INTEGER NOT NULL DEFAULT 1,
    requested_by  BIGINT NOT NULL REFERENCES users(id),
    approved_by   BIGINT REFERENCES users(id),
    dispatched_by BIGINT REFERENCES users(id),
    received_by   BIGINT REFERENCES users(id),
    discrepancy_note TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transfers_from_idx ON transfers (from_hub_id, status);
CREATE INDEX transfers_to_idx ON transfers (to_hub_id, status);
CREATE TABLE transfer_lines (
    transfer_id    UUID NOT NULL REFERENCES transfers(id),
    line_no        INTEGER NOT NULL,
    variant_id     BIGINT NOT NULL REFERENCES product_variants(id),
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    dispatched_qty BIGINT NOT NULL DEFAULT 0 CHECK (dispatched_qty >= 0),
    received_qty   BIGINT NOT NULL DEFAULT 0 CHECK (received_qty >= 0 AND received_qty <= dispatched_qty),
    PRIMARY KEY (transfer_id, line_no)
);

-- Devices report their queue on every contact, so a queue that vanished is noticed.
CREATE TABLE devices (
    id               TEXT PRIMARY KEY CHECK (length(id) BETWEEN 8 AND 64),
    user_id          BIGINT NOT NULL REFERENCES users(id),
    pending_count    INTEGER NOT NULL DEFAULT 0,
    highest_seq      BIGINT NOT NULL DEFAULT 0,
    last_seen_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    flagged_at       TIMESTAMPTZ,
    flag_reason      TEXT
);
