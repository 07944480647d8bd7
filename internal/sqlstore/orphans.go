package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// orphanJob is the job_leases row of the orphan sweep.
const orphanJob = "orphan-sweep"

// LeaseOrphanSweep implements certificates.OrphanStore.
func (s *Store) LeaseOrphanSweep(ctx context.Context, owner string, now, until time.Time) (time.Time, bool, error) {
	var last time.Time
	n, err := s.db.Exec(ctx, `UPDATE job_leases SET lease_owner = $2, lease_until = $3
		WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`, orphanJob, owner, until, now)
	if err != nil || n == 0 {
		return last, false, err
	}
	var at *time.Time
	if err := s.db.QueryRow(ctx, `SELECT finished_at FROM job_leases WHERE name = $1`, orphanJob).Scan(NullTime{&at}); err != nil {
		return last, false, err
	}
	if at != nil {
		last = *at
	}
	return last, true, nil
}

// EndOrphanSweep implements certificates.OrphanStore.
func (s *Store) EndOrphanSweep(ctx context.Context, owner string, at time.Time, finished bool) error {
	if finished {
		_, err := s.db.Exec(ctx, `UPDATE job_leases SET lease_until = $3, finished_at = $3 WHERE name = $1 AND lease_owner = $2`, orphanJob, owner, at)
		return err
	}
	_, err := s.db.Exec(ctx, `UPDATE job_leases SET lease_until = $3 WHERE name = $1 AND lease_owner = $2`, orphanJob, owner, at)
	return err
}

// referencedChunk bounds the parameters of one statement (SQLite's limit
// is 32,766; the sweep's pages are 1,000 keys).
const referencedChunk = 1000

// ReferencedKeys implements certificates.OrphanStore. Every column that
// names an object is asked here (an archived ledger month's bundle too); a
// new one must be added (the conformance
// suite's ReferencedKeys test lists them).
func (s *Store) ReferencedKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), referencedChunk)]
		keys = keys[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, k := range chunk {
			marks[i], args[i] = fmt.Sprintf("$%d", i+1), k
		}
		in := "(" + strings.Join(marks, ", ") + ")"
		rows, err := s.db.Query(ctx, `SELECT document_key FROM certificates WHERE document_key IN `+in+`
			UNION SELECT document_key FROM federated_certificates WHERE document_key IN `+in+`
			UNION SELECT seal_key FROM authorities WHERE seal_key IN `+in+`
			UNION SELECT object_key FROM audit_archives WHERE object_key IN `+in, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
