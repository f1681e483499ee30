-- Organisations, hubs, users and who may see what. Agency independence rests on
-- organisations.kind: an agency's hubs are visible only to that agency's users.
CREATE TABLE app_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE organisations (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    kind       TEXT NOT NULL CHECK (kind IN ('government', 'agency')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE hubs (
    id              BIGSERIAL PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    code            TEXT NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{2,16}$'),
    name            TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    kind            TEXT NOT NULL CHECK (kind IN ('main', 'sub', 'agency')),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX hubs_organisation_idx ON hubs (organisation_id);

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    username        TEXT NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name    TEXT NOT NULL CHECK (length(trim(display_name)) > 0),
    role            TEXT NOT NULL CHECK (role IN ('SuperAdmin', 'Admin', 'LogisticsManager', 'DepotManager',
                        'WarehouseOp', 'SalesRep', 'Driver', 'Auditor', 'CustomerUser', 'SystemBot')),
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    password_hash   TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE user_hubs (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hub_id  BIGINT NOT NULL REFERENCES hubs(id),
    PRIMARY KEY (user_id, hub_id)
);

CREATE TABLE customers (
    id              BIGSERIAL PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    hub_id          BIGINT NOT NULL REFERENCES hubs(id),
    code            TEXT NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9-]{2,16}$'),
    name            TEXT NOT NULL CHECK (length(trim(name)) > 0),
    contact_phone   TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customers_hub_idx ON customers (hub_id);

CREATE TABLE user_customers (
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    PRIMARY KEY (user_id, customer_id)
);
