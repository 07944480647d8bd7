-- +goose Up
-- The ids of forwarded requests this hub answered (issue 14,
-- docs/federation.md): a request is answered once, so one replayed within
-- its minute of validity is refused. Kept a day, far past any request's
-- expiry.
CREATE TABLE federation_requests (
    request_id  text PRIMARY KEY,
    from_hub    text NOT NULL,
    received_at text NOT NULL
);
CREATE INDEX federation_requests_age ON federation_requests (received_at);

-- +goose Down
DROP TABLE federation_requests;
