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
