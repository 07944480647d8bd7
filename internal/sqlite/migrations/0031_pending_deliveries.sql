-- +goose Up
-- PostgreSQL's migration 0031 indexes the pending deliveries for a claim
-- per subscription. SQLite has no LATERAL join and keeps the claim over
-- every due delivery on deliveries_due; nothing changes here, and the
-- version keeps the two stores' schemas numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
