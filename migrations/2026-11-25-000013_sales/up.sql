-- Sales: a cart (draft) for one customer at one hub, confirmed once (stock leaves through the
-- ledger, serialized items become SOLD) or cancelled while still a draft.
CREATE TABLE sales (
    id              UUID PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    hub_id          BIGINT NOT NULL REFERENCES hubs(id),
    customer_id     BIGINT NOT NULL REFERENCES customers(id),
    notes           TEXT NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    -- The tax rate in basis points (7.5 % = 750), fixed when the cart is started.
    tax_rate_bp     INTEGER NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    version         INTEGER NOT NULL DEFAULT 1,
    created_by      BIGINT NOT NULL REFERENCES users(id),
    confirmed_by    BIGINT REFERENCES users(id),
    confirmed_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sales_hub_idx ON sales (hub_id, created_at DESC);
CREATE INDEX sales_customer_idx ON sales (customer_id, created_at DESC);

CREATE TABLE sale_lines (
    sale_id          UUID NOT NULL REFERENCES sales(id),
    line_no          INTEGER NOT NULL,
    variant_id       BIGINT NOT NULL REFERENCES product_variants(id),
    -- A serialized item sold on this line (quantity 1); RESERVED while the cart is a draft.
    item_id          BIGINT REFERENCES inventory_items(id) ON DELETE RESTRICT,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    list_price_cents BIGINT NOT NULL CHECK (list_price_cents >= 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    discount_bp      INTEGER NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),
    foc              BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (sale_id, line_no),
    CHECK (item_id IS NULL OR quantity = 1)
);
CREATE UNIQUE INDEX sale_lines_item_once ON sale_lines (sale_id, item_id) WHERE item_id IS NOT NULL;

-- Invoice numbers: one gapless series per organisation, kind and year. The row is locked by
-- the transaction that takes a number, so a rolled-back issue gives its number back.
CREATE TABLE invoice_series (
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    kind            TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    year            INTEGER NOT NULL,
    last_number     INTEGER NOT NULL,
    PRIMARY KEY (organisation_id, kind, year)
);

-- Issued invoices and credit notes. What is printed is frozen in `document` at issue; only the
-- rendering columns change afterwards, and a rendered PDF never changes.
CREATE TABLE invoices (
    id                 UUID PRIMARY KEY,
    organisation_id    BIGINT NOT NULL REFERENCES organisations(id),
    hub_id             BIGINT NOT NULL REFERENCES hubs(id),
    customer_id        BIGINT NOT NULL REFERENCES customers(id),
    sale_id            UUID NOT NULL REFERENCES sales(id),
    kind               TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    number             TEXT NOT NULL UNIQUE,
    year               INTEGER NOT NULL,
    seq                INTEGER NOT NULL CHECK (seq > 0),
    credits_invoice_id UUID REFERENCES invoices(id),
    reason             TEXT NOT NULL DEFAULT '',
    total_cents        BIGINT NOT NULL,
    document           JSONB NOT NULL,
    issued_by          BIGINT NOT NULL REFERENCES users(id),
    issued_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    render_status      TEXT NOT NULL DEFAULT 'pending' CHECK (render_status IN ('pending', 'ready', 'failed')),
    render_attempts    INTEGER NOT NULL DEFAULT 0,
    render_error       TEXT,
    next_render_at     TIMESTAMPTZ,
    pdf                BYTEA,
    rendered_at        TIMESTAMPTZ,
    UNIQUE (organisation_id, kind, year, seq),
    CHECK ((kind = 'credit_note') = (credits_invoice_id IS NOT NULL))
);
CREATE UNIQUE INDEX invoices_one_per_sale ON invoices (sale_id) WHERE kind = 'invoice';
CREATE UNIQUE INDEX invoices_one_credit_note ON invoices (credits_invoice_id) WHERE kind = 'credit_note';
CREATE INDEX invoices_customer_idx ON invoices (customer_id, issued_at DESC);
CREATE INDEX invoices_render_idx ON invoices (render_status) WHERE render_status <> 'ready';

CREATE FUNCTION invoices_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'issued invoices cannot be deleted; issue a credit note';
    END IF;
    IF (NEW.id, NEW.organisation_id, NEW.hub_id, NEW.customer_id, NEW.sale_id, NEW.kind,
        NEW.number, NEW.year, NEW.seq, NEW.credits_invoice_id, NEW.reason, NEW.total_cents,
        NEW.document, NEW.issued_by, NEW.issued_at)
       IS DISTINCT FROM
       (OLD.id, OLD.organisation_id, OLD.hub_id, OLD.customer_id, OLD.sale_id, OLD.kind,
        OLD.number, OLD.year, OLD.seq, OLD.credits_invoice_id, OLD.reason, OLD.total_cents,
        OLD.document, OLD.issued_by, OLD.issued_at) THEN
        RAISE EXCEPTION 'issued invoices cannot be changed; issue a credit note';
    END IF;
    IF OLD.pdf IS NOT NULL AND NEW.pdf IS DISTINCT FROM OLD.pdf THEN
        RAISE EXCEPTION 'a rendered invoice PDF cannot be replaced';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_immutable();

-- The sales tax rate each organisation charges, in basis points (set by its administrators).
ALTER TABLE organisations ADD COLUMN sales_tax_bp INTEGER NOT NULL DEFAULT 0
    CHECK (sales_tax_bp BETWEEN 0 AND 10000);
ALTER TABLE organisations ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD'
    CHECK (currency ~ '^[A-Z]{3}$');

-- A cart gives a reserved item back when the line is removed or the draft cancelled; a credit
-- note with the goods returned puts a sold item back.
ALTER TABLE inventory_transactions DROP CONSTRAINT inventory_transactions_action_check;
ALTER TABLE inventory_transactions ADD CONSTRAINT inventory_transactions_action_check
    CHECK (action IN ('RECEIVE', 'MOVE', 'UPDATE', 'RESERVE', 'RELEASE', 'SELL', 'RETURN', 'DELETE'));

-- Stock leaves a hub when a sale is confirmed and comes back with a credit note for returned goods.
ALTER TABLE stock_ledger DROP CONSTRAINT stock_ledger_reason_check;
ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_reason_check
    CHECK (reason IN ('opening_balance', 'intake', 'distribution', 'transfer_out', 'transfer_in', 'adjustment', 'sale', 'sale_return'));
