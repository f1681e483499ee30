-- Badges: the NFC cards of customers. A UID is the card's serial number in hex, unique.
CREATE TABLE badges (
    id          BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    uid         TEXT NOT NULL UNIQUE CHECK (uid ~ '^[0-9A-F]{8,20}$'),
    badge_type  TEXT NOT NULL CHECK (badge_type IN ('mifare_classic_1k', 'ntag213', 'ntag215', 'ntag216')),
    label       TEXT NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX badges_customer_idx ON badges (customer_id);

-- Each customer's copy allowance for the current period.
CREATE TABLE badge_quotas (
    customer_id   BIGINT PRIMARY KEY REFERENCES customers(id),
    copy_limit    INTEGER NOT NULL CHECK (copy_limit BETWEEN 0 AND 1000000),
    remaining     INTEGER NOT NULL CHECK (remaining >= 0),
    period        TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    period_start  TIMESTAMPTZ NOT NULL,
    next_reset_at TIMESTAMPTZ NOT NULL CHECK (next_reset_at > period_start),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX badge_quotas_due_idx ON badge_quotas (next_reset_at);

-- One row per period a quota was reset into: however often (or late) the reset job runs, a
-- period is reset into once.
CREATE TABLE badge_quota_resets (
    customer_id  BIGINT NOT NULL REFERENCES customers(id),
    period_start TIMESTAMPTZ NOT NULL,
    skipped      INTEGER NOT NULL DEFAULT 0,
    reset_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, period_start)
);

-- Copies: one badge copied at one station. queued → leased (to the station, until
-- lease_until; an expired lease offers it again) → completed | failed | abandoned (too many
-- expired leases). A failed or abandoned copy gives its quota back, once.
CREATE TABLE badge_copies (
    id             UUID PRIMARY KEY,
    customer_id    BIGINT NOT NULL REFERENCES customers(id),
    hub_id         BIGINT NOT NULL REFERENCES hubs(id),
    station_id     BIGINT NOT NULL REFERENCES nfc_stations(id),
    badge_uid      TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'leased', 'completed', 'failed', 'abandoned')),
    requested_by   BIGINT REFERENCES users(id),
    recorded_by    TEXT NOT NULL DEFAULT '',
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_until    TIMESTAMPTZ,
    error_category TEXT,
    error          TEXT,
    requested_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ,
    CHECK ((status = 'leased') = (lease_until IS NOT NULL))
);
CREATE INDEX badge_copies_station_idx ON badge_copies (station_id, status, requested_at);
CREATE INDEX badge_copies_customer_idx ON badge_copies (customer_id, requested_at DESC);

-- What a copied card held, kept for backup and audit, with its SHA-256.
CREATE TABLE badge_dumps (
    id         BIGSERIAL PRIMARY KEY,
    copy_id    UUID NOT NULL UNIQUE REFERENCES badge_copies(id),
    badge_uid  TEXT NOT NULL,
    data       JSONB NOT NULL,
    sha256     TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Station codes as sites name them (PARIS_01).
ALTER TABLE nfc_stations DROP CONSTRAINT nfc_stations_code_check;
ALTER TABLE nfc_stations ADD CONSTRAINT nfc_stations_code_check CHECK (code ~ '^[A-Z0-9_-]{3,32}$');
