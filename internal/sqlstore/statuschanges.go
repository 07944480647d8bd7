package sqlstore

import (
	"context"

	"github.com/certhub/certhub/certificates"
)

// StatusChangesAfter implements certificates.ChangeFeed: the outbox's state
// changes after seq (through the partial index events_state_changes).
func (s *Store) StatusChangesAfter(ctx context.Context, seq int64, limit int) ([]certificates.StatusChange, error) {
	return list(ctx, s.db, func(r Row) (certificates.StatusChange, error) {
		var c certificates.StatusChange
		return c, r.Scan(&c.Seq, &c.Lineage, Time{&c.At})
	}, `SELECT seq, lineage, at FROM events WHERE seq > $1 AND kind IN ('revised', 'suspended', 'reinstated', 'revoked')
		ORDER BY seq LIMIT $2`, seq, limit)
}

// LastEventSeq implements certificates.ChangeFeed.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq *int64
	if err := s.db.QueryRow(ctx, `SELECT max(seq) FROM events`).Scan(&seq); err != nil || seq == nil {
		return 0, err
	}
	return *seq, nil
}
