-- +goose Up
-- A holder's access history (/api/v1/me/accesses) finds its entries by
-- audit_log.holder, a 64-character keyed hash of the holder's id. Indexed
-- as text, that key made the index ~150 bytes per entry (1.3 GB at 10
-- million entries, docs/benchmarks.md), and every consumer access inserts
-- one entry at a random place in it. The ledger grows with accesses, not
-- with certificates, so this index was the fastest-growing one.
--
-- It is now indexed by a 64-bit hash of that key (hashtextextended, total
-- over any text: an entry is never refused for its holder): ~32 bytes per
-- entry freshly built, ~50 as entries arrive at random places (~105 and
-- ~145 for the text key, measured on the same ledger). The query names both the hash and the holder itself
-- (sqlstore.HolderAudit), so two holders whose keys share a 64-bit hash
-- still see only their own entries.
--
-- Building it reads the whole ledger once and holds back appends while it
-- runs (PostgreSQL builds an index of a partitioned table only without
-- CONCURRENTLY): some seconds per 10 million entries, at the upgrade.
DROP INDEX audit_log_holder;
CREATE INDEX audit_log_holder ON audit_log (hashtextextended(holder, 0), seq) WHERE holder IS NOT NULL;

-- +goose Down
DROP INDEX audit_log_holder;
CREATE INDEX audit_log_holder ON audit_log (holder, seq) WHERE holder IS NOT NULL;
