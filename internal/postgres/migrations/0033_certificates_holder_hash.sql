-- +goose Up
-- Lookups by holder (and type) find certificates through an index keyed by
-- the holder's 64-character keyed hash as text, then type and seq: ~160
-- bytes per certificate, 1.5 GB at 10 million, read at random pages by
-- every lookup and resolve, and larger than the part of it PostgreSQL's
-- shared buffers could keep beside the table (docs/benchmarks.md, "A
-- fourth 10M store").
--
-- It is now keyed by a 64-bit hash of that key, as the ledger's holder
-- index is since 0032 (hashtextextended, total over any text). The query
-- names both the hash and the key (sqlstore.FindCertificates), so two
-- holders whose keys share a 64-bit hash still see only their own
-- certificates.
--
-- The build reads the table once and holds back writes to it (issuance,
-- revocation) while it runs, reads go on. Replicas of an earlier release
-- look holders up by the text key: after this migration their lookups scan
-- the table, so on a large store stop them before starting this release
-- (docs/operations.md). Building the index by hand beforehand with CREATE
-- INDEX CONCURRENTLY and the name below makes this migration only drop the
-- old one.
CREATE INDEX IF NOT EXISTS certificates_holder_hash ON certificates (hashtextextended(holder_index, 0), type_code, seq);
DROP INDEX IF EXISTS certificates_holder;

-- +goose Down
CREATE INDEX IF NOT EXISTS certificates_holder ON certificates (holder_index, type_code, seq);
DROP INDEX IF EXISTS certificates_holder_hash;
