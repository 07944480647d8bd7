-- +goose Up
-- Department systems (consumers), the purpose catalog, sharing agreements
-- (共享责任清单) and the client assertions already used (RFC 7523 replay).
CREATE TABLE consumers (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    uscc       text NOT NULL,
    contact    text NOT NULL DEFAULT '',
    scopes     jsonb NOT NULL,
    jwks       jsonb,
    status     text NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

ALTER TABLE api_tokens ADD COLUMN consumer_id text REFERENCES consumers (id);
CREATE INDEX api_tokens_consumer ON api_tokens (consumer_id);

CREATE TABLE purposes (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('legal_basis', 'service_item')),
    basis      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);

CREATE TABLE agreements (
    id              text PRIMARY KEY,
    consumer_id     text NOT NULL REFERENCES consumers (id),
    grants          jsonb NOT NULL,
    purposes        jsonb NOT NULL,
    valid_from      date NOT NULL,
    valid_until     date NOT NULL,
    rate_per_minute integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn')),
    requested_by    text NOT NULL,
    decided_by      text NOT NULL DEFAULT '',
    decided_at      timestamptz,
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX agreements_consumer ON agreements (consumer_id, created_at);

CREATE TABLE client_assertions (
    consumer_id text NOT NULL,
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (consumer_id, jti)
);
CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);

-- +goose Down
DROP TABLE client_assertions;
DROP TABLE agreements;
DROP TABLE purposes;
DROP INDEX api_tokens_consumer;
ALTER TABLE api_tokens DROP COLUMN consumer_id;
DROP TABLE consumers;
