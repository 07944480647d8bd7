package postgres

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/certhub/certhub/internal/sqlstore"
)

// LookupSet is what department lookups read at random pages, in bytes:
// the certificates table, its holder index and its primary key. A lookup
// by holder or by id reads a page of each; once they are larger than
// PostgreSQL's shared_buffers (also given, in bytes), those reads come
// from the OS cache or the disk, and lookups, resolves and reads by id
// slow as the store grows (docs/benchmarks.md, "Buffers that hold what a
// lookup reads": 0.6 of their 100k rate at 10M on 6 GB, the same on
// 12 GB).
func LookupSet(ctx context.Context, s *sqlstore.Store) (set, buffers int64, err error) {
	err = s.DB().QueryRow(ctx, `SELECT
		coalesce(pg_relation_size(to_regclass('certificates')), 0)
		+ coalesce(pg_relation_size(to_regclass('certificates_holder_hash')), 0)
		+ coalesce(pg_relation_size(to_regclass('certificates_pkey')), 0),
		pg_size_bytes(current_setting('shared_buffers'))`).Scan(&set, &buffers)
	return set, buffers, err
}

// BufferWatch warns when what lookups read (LookupSet) does not fit in
// shared_buffers: at the first check if it does not, then each time it
// stops fitting, with both sizes. The operator sizes PostgreSQL, but the
// hub is the one that knows what its lookups read.
type BufferWatch struct {
	warned atomic.Bool
}

// Check measures once (serve calls it at start and every 10 minutes).
func (w *BufferWatch) Check(ctx context.Context, s *sqlstore.Store, log *slog.Logger) {
	set, buffers, err := LookupSet(ctx, s)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("could not compare the certificates' size with PostgreSQL's shared_buffers", "err", err)
		}
		return
	}
	w.note(log, set, buffers)
}

func (w *BufferWatch) note(log *slog.Logger, set, buffers int64) {
	if set <= buffers {
		w.warned.Store(false)
		return
	}
	if w.warned.Swap(true) {
		return
	}
	log.Warn("PostgreSQL's shared_buffers are smaller than what department lookups read (the certificates table, "+
		"its holder index and primary key): lookups read from outside PostgreSQL's cache and slow as the store grows; "+
		"see docs/operations.md, \"A store larger than memory\"",
		"lookup_set_bytes", set, "shared_buffers_bytes", buffers)
}
