-- +goose Up
-- Service items (政务服务事项) with their materials, and one row per
-- resolved case: how many materials the item required and how many were
-- satisfied by e-certificates (材料减少).
CREATE TABLE service_items (
    code       text PRIMARY KEY,
    name       text NOT NULL,
    department text NOT NULL,
    materials  jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE resolutions (
    item_code  text NOT NULL,
    case_id    text NOT NULL,
    department text NOT NULL,
    consumer   text NOT NULL,
    day        text NOT NULL,
    required   integer NOT NULL,
    avoided    integer NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (item_code, case_id)
);
CREATE INDEX resolutions_day ON resolutions (day);

-- +goose Down
DROP TABLE resolutions;
DROP TABLE service_items;
