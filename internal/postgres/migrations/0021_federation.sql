-- +goose Up
-- Federation (issue 14, docs/federation.md): this hub's identity
-- (relation 'self', at most one) and the children it admitted. record is
-- the JSON of federation.Self or federation.Hub; description the signed
-- description a child was admitted from, or its latest live one.
CREATE TABLE federation_hubs (
    hub_id      text PRIMARY KEY,
    relation    text NOT NULL CHECK (relation IN ('self', 'child')),
    record      text NOT NULL,
    description text,
    admitted_at timestamptz,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX federation_hubs_self ON federation_hubs (relation) WHERE relation = 'self';
-- The last good directory fetched from each hub (parent and children):
-- verification keeps working from it while that hub is down.
CREATE TABLE federation_directories (
    source     text PRIMARY KEY,
    token      text NOT NULL,
    fetched_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE federation_directories;
DROP TABLE federation_hubs;
