-- +goose Up
CREATE TABLE authorities (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE seal_keys (
    kid        text PRIMARY KEY,
    authority  text NOT NULL REFERENCES authorities (code),
    algorithm  text NOT NULL,
    public_jwk text NOT NULL,
    backend    text NOT NULL,
    sealed     bytea NOT NULL,
    status     text NOT NULL CHECK (status IN ('active', 'retired')),
    created_at timestamptz NOT NULL,
    retired_at timestamptz
);
-- One active key per authority: a concurrent rotation on another replica
-- fails instead of leaving two.
CREATE UNIQUE INDEX seal_keys_one_active ON seal_keys (authority) WHERE status = 'active';

CREATE TABLE cert_types (
    code               text PRIMARY KEY,
    name               text NOT NULL,
    defining_authority text NOT NULL REFERENCES authorities (code),
    holder_kind        text NOT NULL CHECK (holder_kind IN ('person', 'organisation')),
    fields             jsonb NOT NULL,
    max_validity_days  integer,
    created_at         timestamptz NOT NULL
);

CREATE TABLE serials (
    type_code text NOT NULL,
    authority text NOT NULL,
    next      bigint NOT NULL,
    PRIMARY KEY (type_code, authority)
);

CREATE TABLE certificates (
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id              text PRIMARY KEY,
    lineage         text NOT NULL,
    type_code       text NOT NULL REFERENCES cert_types (code),
    authority       text NOT NULL REFERENCES authorities (code),
    serial          text NOT NULL,
    version         integer NOT NULL,
    holder_kind     text NOT NULL,
    holder_index    text NOT NULL,
    holder_sealed   bytea NOT NULL,
    holder_name     text NOT NULL,
    data            jsonb NOT NULL,
    valid_from      date NOT NULL,
    valid_until     date,
    state           text NOT NULL CHECK (state IN ('valid', 'suspended', 'revoked', 'superseded')),
    state_reason    text NOT NULL DEFAULT '',
    superseded_by   text,
    document_key    text NOT NULL,
    document_sha256 text NOT NULL,
    kid             text NOT NULL REFERENCES seal_keys (kid),
    issued_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (lineage, version)
);
CREATE INDEX certificates_holder ON certificates (holder_index, type_code, seq);
CREATE INDEX certificates_type ON certificates (type_code, seq);
CREATE INDEX certificates_authority ON certificates (authority, seq);

CREATE TABLE idempotency_keys (
    principal      text NOT NULL,
    key            text NOT NULL,
    request_hash   text NOT NULL,
    certificate_id text NOT NULL REFERENCES certificates (id),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TABLE api_tokens (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    role       text NOT NULL,
    authority  text NOT NULL DEFAULT '',
    hash       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE idempotency_keys;
DROP TABLE certificates;
DROP TABLE serials;
DROP TABLE cert_types;
DROP TABLE seal_keys;
DROP TABLE authorities;
