-- +goose Up
-- Which connector record caused which certificate: written in the same
-- transaction as the certificate write, so replays find earlier work.
CREATE TABLE certificate_origins (
    connector      text NOT NULL,
    source_key     text NOT NULL,
    lineage        text NOT NULL,
    certificate_id text NOT NULL REFERENCES certificates (id),
    content_hash   text NOT NULL,
    source_status  text NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (connector, source_key)
);

CREATE TABLE connectors (
    name        text PRIMARY KEY,
    kind        text NOT NULL,
    definition  jsonb NOT NULL,
    paused      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- run state: where the source was read up to, and who is reading it
    cursor      text NOT NULL DEFAULT '',
    lease_owner text NOT NULL DEFAULT '',
    lease_until timestamptz,
    failures    integer NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    next_run_at timestamptz
);

CREATE TABLE connector_runs (
    id          text PRIMARY KEY,
    connector   text NOT NULL REFERENCES connectors (name),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text NOT NULL,
    seen        bigint NOT NULL DEFAULT 0,
    issued      bigint NOT NULL DEFAULT 0,
    revised     bigint NOT NULL DEFAULT 0,
    lifecycle   bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    cursor_from text NOT NULL DEFAULT '',
    cursor_to   text NOT NULL DEFAULT ''
);
CREATE INDEX connector_runs_connector ON connector_runs (connector, started_at);

CREATE TABLE connector_quarantine (
    id          text PRIMARY KEY,
    connector   text NOT NULL REFERENCES connectors (name),
    source_key  text NOT NULL,
    raw_hash    text NOT NULL,
    raw_sealed  bytea NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    UNIQUE (connector, raw_hash)
);
CREATE INDEX connector_quarantine_open ON connector_quarantine (connector, created_at) WHERE resolved_at IS NULL;

-- +goose Down
DROP TABLE connector_quarantine;
DROP TABLE connector_runs;
DROP TABLE connectors;
DROP TABLE certificate_origins;
