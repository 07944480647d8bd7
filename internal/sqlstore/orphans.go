package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// orphanCursor is the event_cursor row whose lease the orphan sweep holds
// (its seq is unused): the mechanism of the webhook dispatcher and the
// push to the parent, so one replica sweeps at a time.
const orphanCursor = "orphan-sweep"

// LeaseOrphanSweep implements certificates.OrphanStore.
func (s *Store) LeaseOrphanSweep(ctx context.Context, owner string, now, until time.Time) (bool, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO event_cursor (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, orphanCursor); err != nil {
		return false, err
	}
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET lease_owner = $2, lease_until = $3
		WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`, orphanCursor, owner, until, now)
	return err == nil && n > 0, err
}

// referencedChunk bounds the parameters of one statement (SQLite's limit
// is 32,766; the sweep's pages are 1,000 keys).
const referencedChunk = 1000

// ReferencedKeys implements certificates.OrphanStore. Every column that
// names an object is asked here; a new one must be added (the conformance
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
			UNION SELECT seal_key FROM authorities WHERE seal_key IN `+in, args...)
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
