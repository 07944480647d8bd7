-- +goose Up
-- Daily usage counters, kept in the same transaction as the ledger entries
-- they count, for the statistics reports (月报 / 季报 / 年报).
CREATE TABLE usage_daily (
    day       text NOT NULL,  -- YYYY-MM-DD in the hub's time zone
    action    text NOT NULL,
    actor     text NOT NULL,
    type_code text NOT NULL,
    authority text NOT NULL,
    purpose   text NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (day, action, actor, type_code, authority, purpose)
);

-- +goose Down
DROP TABLE usage_daily;
