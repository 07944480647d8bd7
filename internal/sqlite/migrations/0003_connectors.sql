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
    updated_at     text NOT NULL,
    PRIMARY KEY (connector, source_key)
);

CREATE TABLE connectors (
    name        text PRIMARY KEY,
    kind        text NOT NULL,
    definition  text NOT NULL,
    paused      integer NOT NULL DEFAULT 0,
    created_at  text NOT NULL,
    updated_at  text NOT NULL,
    -- run state: where the source was read up to, and who is reading it
    cursor      text NOT NULL DEFAULT '',
    lease_owner text NOT NULL DEFAULT '',
    lease_until text,
    failures    integer NOT NULL DEFAULT 0,
    last_error  text NOT NULL DEFAULT '',
    next_run_at text
);

CREATE TABLE connector_runs (
    id          text PRIMARY KEY,
    connector   text NOT NULL REFERENCES connectors (name),
    started_at  text NOT NULL,
    finished_at text,
    status      text NOT NULL,
    seen        integer NOT NULL DEFAULT 0,
    issued      integer NOT NULL DEFAULT 0,
    revised     integer NOT NULL DEFAULT 0,
    lifecycle   integer NOT NULL DEFAULT 0,
    unchanged   integer NOT NULL DEFAULT 0,
    quarantined integer NOT NULL DEFAULT 0,
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
    raw_sealed  blob NOT NULL,
    reason      text NOT NULL,
    created_at  text NOT NULL,
    resolved_at text,
    UNIQUE (connector, raw_hash)
);
CREATE INDEX connector_quarantine_open ON connector_quarantine (connector, created_at) WHERE resolved_at IS NULL;

-- +goose Down
DROP TABLE connector_quarantine;
DROP TABLE connector_runs;
DROP TABLE connectors;
DROP TABLE certificate_origins;
