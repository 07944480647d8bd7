package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// The ledger's month partitions (PostgreSQL, migration 0029). SQLite keeps
// one table: there, creating partitions does nothing and purging deletes.

// partitioned says whether audit_log is partitioned: on PostgreSQL, the
// only adapter that pipelines (Batcher), it is since migration 0029.
func (s *Store) partitioned() bool {
	_, ok := s.db.(Batcher)
	return ok
}

// partitionName is the name of the partition of the month starting at m.
func partitionName(m time.Time) string {
	return fmt.Sprintf("audit_log_y%04dm%02d", m.Year(), int(m.Month()))
}

var partitionRE = regexp.MustCompile(`^audit_log_y(\d{4})m(\d{2})$`)

// monthStart is the first instant of t's month, UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ledgerLock bounds how long partition work waits for the appenders' lock
// on audit_log (and makes them wait): it is retried on the next run.
const ledgerLock = `SET LOCAL lock_timeout = '10s'`

// EnsureAuditPartitions implements exchange.ArchiveStore: it creates the
// partitions of now's month and the next, if missing. Several replicas may
// run it at once: the table lock serializes them and the second finds the
// partition made. Rows of the month that went to the default partition
// meanwhile are moved into the new one (PostgreSQL refuses to create a
// partition while the default one holds rows of its range).
func (s *Store) EnsureAuditPartitions(ctx context.Context, now time.Time) error {
	if !s.partitioned() {
		return nil
	}
	for _, m := range []time.Time{monthStart(now), monthStart(now).AddDate(0, 1, 0)} {
		name := partitionName(m)
		var exists bool
		if err := s.db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		end := m.AddDate(0, 1, 0)
		err := s.db.InTx(ctx, func(q Querier) error {
			if _, err := q.Exec(ctx, ledgerLock); err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || exists {
				return err
			}
			if _, err := q.Exec(ctx, `CREATE TEMP TABLE audit_moving (seq bigint, body text, hash text, at timestamptz) ON COMMIT DROP`); err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `WITH moved AS (DELETE FROM audit_log_default WHERE at >= $1 AND at < $2 RETURNING seq, body, hash, at)
				INSERT INTO audit_moving SELECT * FROM moved`, m, end); err != nil {
				return err
			}
			// Names and bounds are made here, not taken from input.
			if _, err := q.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF audit_log FOR VALUES FROM ('%s') TO ('%s')`,
				name, m.Format(time.RFC3339), end.Format(time.RFC3339))); err != nil {
				return err
			}
			_, err := q.Exec(ctx, `INSERT INTO audit_log (seq, body, hash, at) SELECT seq, body, hash, at FROM audit_moving`)
			return err
		})
		if err != nil {
			return fmt.Errorf("ledger partition %s: %w", name, err)
		}
	}
	return nil
}

// ListAuditArchives implements exchange.ArchiveStore.
func (s *Store) ListAuditArchives(ctx context.Context) ([]*exchange.AuditArchive, error) {
	rows, err := s.db.Query(ctx, `SELECT month, first_seq, last_seq, prev_hash, last_hash, object_key, sha256, archived_at
		FROM audit_archives ORDER BY first_seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*exchange.AuditArchive
	for rows.Next() {
		a := &exchange.AuditArchive{}
		if err := rows.Scan(&a.Month, &a.FirstSeq, &a.LastSeq, &a.PrevHash, &a.LastHash, &a.Key, &a.SHA256, Time{&a.ArchivedAt}); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AddAuditArchive implements exchange.ArchiveStore.
func (s *Store) AddAuditArchive(ctx context.Context, a *exchange.AuditArchive) error {
	_, err := s.db.Exec(ctx, `INSERT INTO audit_archives (month, first_seq, last_seq, prev_hash, last_hash, object_key, sha256, archived_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.Month, a.FirstSeq, a.LastSeq, a.PrevHash, a.LastHash, a.Key, a.SHA256, a.ArchivedAt.UTC())
	if errs.Is(err, errs.Conflict) {
		return errs.E(errs.Conflict, "ledger month %s is archived already", a.Month)
	}
	return err
}

// FirstLiveAudit implements exchange.ArchiveStore.
func (s *Store) FirstLiveAudit(ctx context.Context, after int64) (int64, time.Time, bool, error) {
	var seq int64
	var at *time.Time
	err := s.db.QueryRow(ctx, `SELECT seq, at FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1`, after).Scan(&seq, NullTime{&at})
	switch {
	case errs.Is(err, errs.NotFound):
		return 0, time.Time{}, false, nil
	case err != nil:
		return 0, time.Time{}, false, err
	case at == nil:
		return 0, time.Time{}, false, errs.E(errs.Internal, "audit entry %d has no time column", seq)
	}
	return seq, *at, true, nil
}

// LastAuditBefore implements exchange.ArchiveStore.
func (s *Store) LastAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	var seq *int64
	err := s.db.QueryRow(ctx, `SELECT max(seq) FROM audit_log WHERE at < $1`, t.UTC()).Scan(&seq)
	if err != nil || seq == nil {
		return 0, err
	}
	return *seq, nil
}

// PurgeAudit implements exchange.ArchiveStore. On PostgreSQL every month
// partition that ends by end and holds no entry after lastSeq is dropped
// whole (its lock taken first, so no entry lands in it meanwhile); the
// entries up to lastSeq left elsewhere (the default partition, an entry
// whose time is out of order) are deleted. On SQLite they are all deleted.
func (s *Store) PurgeAudit(ctx context.Context, end time.Time, lastSeq int64) (int64, error) {
	var removed int64
	err := s.db.InTx(ctx, func(q Querier) error {
		removed = 0
		if s.partitioned() {
			if _, err := q.Exec(ctx, ledgerLock); err != nil {
				return err
			}
			rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = 'audit_log'::regclass ORDER BY c.relname`)
			if err != nil {
				return err
			}
			var names []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return err
				}
				names = append(names, n)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, n := range names {
				m := partitionRE.FindStringSubmatch(n)
				if m == nil {
					continue
				}
				start, _ := time.Parse("2006-01", m[1]+"-"+m[2])
				if start.AddDate(0, 1, 0).After(end) {
					continue
				}
				if _, err := q.Exec(ctx, `LOCK TABLE `+n+` IN ACCESS EXCLUSIVE MODE`); err != nil {
					return err
				}
				var later bool
				var count int64
				if err := q.QueryRow(ctx, `SELECT count(*), coalesce(max(seq) > $1, false) FROM `+n, lastSeq).Scan(&count, &later); err != nil {
					return err
				}
				if later {
					continue // its entries up to lastSeq are deleted below
				}
				if _, err := q.Exec(ctx, `DROP TABLE `+n); err != nil {
					return err
				}
				removed += count
			}
		}
		n, err := q.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, lastSeq)
		removed += n
		return err
	})
	return removed, err
}
