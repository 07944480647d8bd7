-- +goose Up
-- Aggregation upward (归集, issue 14, docs/federation.md). A parent keeps
-- the certificate versions its children push, read-only, marked with their
-- home hub: the document as the issuing authority signed it (in the object
-- store), its state, and the holder index this hub computes itself. They
-- are apart from the hub's own certificates so that nothing of its own
-- (issuance, status lists, its trust list, key rotation) ever takes a
-- foreign authority, type or key for one of its own.
CREATE TABLE federated_certificates (
    id              text PRIMARY KEY,
    home_hub        text NOT NULL,
    lineage         text NOT NULL,
    type_code       text NOT NULL,
    authority       text NOT NULL,
    version         integer NOT NULL,
    holder_kind     text NOT NULL,
    holder_index    text NOT NULL,
    holder_sealed   bytea NOT NULL,
    holder_name     text NOT NULL,
    valid_from      date NOT NULL,
    valid_until     date,
    state           text NOT NULL CHECK (state IN ('valid', 'suspended', 'revoked', 'superseded')),
    state_reason    text NOT NULL DEFAULT '',
    superseded_by   text,
    document_key    text NOT NULL,
    -- A push's documents are one object (federated/<hub>/batches/…): each
    -- is the byte range offset, length of it; length 0 is a whole object.
    document_offset bigint NOT NULL DEFAULT 0,
    document_length bigint NOT NULL DEFAULT 0,
    document_sha256 text NOT NULL,
    kid             text NOT NULL,
    issued_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX federated_certificates_holder ON federated_certificates (holder_index, type_code);
CREATE INDEX federated_certificates_hub ON federated_certificates (home_hub, authority);
-- How far each child's outbox has been applied here: a push applies only
-- the events after it, in the same transaction that moves it, so a batch
-- sent twice (a crash on either side) is applied once.
CREATE TABLE federation_inbox (
    hub_id     text PRIMARY KEY,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
-- The backfill of the push to the parent (one row, 'aggregation'): every
-- version of the registry, this hub's own certificates in seq order and
-- then its children's copies in id order, pushed with its current state,
-- before the outbox is pushed on from events_mark (the outbox's last seq
-- when the backfill began: the scan, which starts once those events have
-- settled, holds all they say).
CREATE TABLE aggregation_backfill (
    name         text PRIMARY KEY,
    events_mark  bigint NOT NULL,
    marked_at    timestamptz NOT NULL,
    own_after    bigint NOT NULL DEFAULT 0,
    copies_after text NOT NULL DEFAULT '',
    done_at      timestamptz
);
-- The hub an event's certificate belongs to ('' for this hub's own): a
-- parent passes its children's events on to its own parent.
ALTER TABLE events ADD COLUMN home_hub text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN home_hub;
DROP TABLE aggregation_backfill;
DROP TABLE federation_inbox;
DROP TABLE federated_certificates;
