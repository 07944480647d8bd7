-- +goose Up
CREATE TABLE shares (
    id             text PRIMARY KEY,
    token_hash     text NOT NULL UNIQUE,
    holder_index   text NOT NULL,
    certificate_id text NOT NULL REFERENCES certificates (id),
    fields         text NOT NULL,
    purpose        text NOT NULL DEFAULT '',
    show_name      integer NOT NULL DEFAULT 0,
    created_at     text NOT NULL,
    expires_at     text NOT NULL,
    max_views      integer,
    views          integer NOT NULL DEFAULT 0,
    revoked_at     text
);
CREATE INDEX shares_holder ON shares (holder_index, created_at);

CREATE TABLE share_views (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    share_id text NOT NULL REFERENCES shares (id),
    at       text NOT NULL,
    client   text NOT NULL,
    network  text NOT NULL
);
CREATE INDEX share_views_share ON share_views (share_id, seq);

-- +goose Down
DROP TABLE share_views;
DROP TABLE shares;
