-- +goose Up
-- Certificate events (the transactional outbox: written in the same
-- transaction as the change), consumers' subscriptions and follows, and
-- webhook deliveries with their attempts.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             text NOT NULL UNIQUE,
    kind           text NOT NULL,
    certificate_id text NOT NULL,
    lineage        text NOT NULL,
    type_code      text NOT NULL,
    authority      text NOT NULL,
    version        integer NOT NULL,
    reason         text NOT NULL DEFAULT '',
    at             text NOT NULL
);
CREATE INDEX events_certificate ON events (certificate_id, kind);
CREATE INDEX certificates_expiry ON certificates (valid_until) WHERE state = 'valid';

CREATE TABLE event_cursor (
    name        text PRIMARY KEY,
    seq         bigint NOT NULL,
    lease_owner text NOT NULL DEFAULT '',
    lease_until text
);
INSERT INTO event_cursor (name, seq) VALUES ('webhooks', 0);

CREATE TABLE subscriptions (
    id          text PRIMARY KEY,
    consumer_id text NOT NULL REFERENCES consumers (id),
    url         text NOT NULL,
    types       text NOT NULL,
    authorities text NOT NULL,
    events      text NOT NULL,
    follow_days integer NOT NULL DEFAULT 0,
    status      text NOT NULL CHECK (status IN ('active', 'deleted')),
    created_at  text NOT NULL,
    deleted_at  text
);
CREATE INDEX subscriptions_consumer ON subscriptions (consumer_id);

CREATE TABLE follows (
    consumer_id text NOT NULL,
    lineage     text NOT NULL,
    case_id     text NOT NULL,
    until       text NOT NULL,
    PRIMARY KEY (lineage, consumer_id)
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id text NOT NULL REFERENCES subscriptions (id),
    event_seq       bigint NOT NULL REFERENCES events (seq),
    lineage         text NOT NULL,
    case_id         text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_at         text NOT NULL,
    lease_until     text,
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      text NOT NULL,
    delivered_at    text,
    UNIQUE (subscription_id, event_seq)
);
CREATE INDEX deliveries_due ON deliveries (status, next_at);
CREATE INDEX deliveries_order ON deliveries (subscription_id, lineage, event_seq);

CREATE TABLE delivery_attempts (
    delivery_id bigint NOT NULL REFERENCES deliveries (id),
    at          text NOT NULL,
    status_code integer NOT NULL,
    error       text NOT NULL,
    duration_ms integer NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at);

-- +goose Down
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE follows;
DROP TABLE subscriptions;
DROP TABLE event_cursor;
DROP INDEX certificates_expiry;
DROP TABLE events;
