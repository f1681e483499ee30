-- NFC badge stations: a site PC with an ACR122U reader, bound to one hub.
CREATE TABLE nfc_stations (
    id          BIGSERIAL PRIMARY KEY,
    hub_id      BIGINT NOT NULL REFERENCES hubs(id),
    code        TEXT NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{2,24}$'),
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    reader_name TEXT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    last_seen_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
