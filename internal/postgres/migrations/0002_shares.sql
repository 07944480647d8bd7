-- +goose Up
CREATE TABLE shares (
    id             text PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE,
    holder_index   text NOT NULL,
    certificate_id text NOT NULL REFERENCES certificates (id),
    fields         jsonb NOT NULL,
    purpose        text NOT NULL DEFAULT '',
    show_name      boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    max_views      integer,
    views          integer NOT NULL DEFAULT 0,
    revoked_at     timestamptz
);
CREATE INDEX shares_holder ON shares (holder_index, created_at);

CREATE TABLE share_views (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    share_id text NOT NULL REFERENCES shares (id),
    at       timestamptz NOT NULL,
    client   text NOT NULL,
    network  text NOT NULL
);
CREATE INDEX share_views_share ON share_views (share_id, seq);

-- +goose Down
DROP TABLE share_views;
DROP TABLE shares;
