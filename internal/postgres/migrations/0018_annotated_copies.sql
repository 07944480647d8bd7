-- +goose Up
-- Annotated copies (加注件): a licence file stamped with one purpose and an
-- expiry, for the holder or for a department under its agreement. The
-- files are made on demand from the certificate version; the row holds
-- what is printed on them and whether the copy may still be used.
CREATE TABLE annotated_copies (
    id             text PRIMARY KEY,
    certificate_id text NOT NULL REFERENCES certificates (id),
    holder_index   text NOT NULL,
    requester      text NOT NULL,
    agreement      text NOT NULL DEFAULT '',
    purpose        text NOT NULL,
    case_id        text NOT NULL DEFAULT '',
    expires_on     date NOT NULL,
    created_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX annotated_copies_holder ON annotated_copies (holder_index, created_at);

-- +goose Down
DROP TABLE annotated_copies;
