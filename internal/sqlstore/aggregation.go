package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// aggregationCursor is the event_cursor row of the push to the parent. It
// exists once a push was tried, and from then on Prune keeps every event
// the parent has not applied.
const aggregationCursor = "aggregation"

// LeaseAggregation implements federation.AggregationStore.
func (s *Store) LeaseAggregation(ctx context.Context, owner string, now, until time.Time) (int64, bool, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO event_cursor (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, aggregationCursor); err != nil {
		return 0, false, err
	}
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET lease_owner = $2, lease_until = $3
		WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`, aggregationCursor, owner, until, now)
	if err != nil || n == 0 {
		return 0, false, err
	}
	var seq int64
	err = s.db.QueryRow(ctx, `SELECT seq FROM event_cursor WHERE name = $1`, aggregationCursor).Scan(&seq)
	return seq, err == nil, err
}

// MoveAggregation implements federation.AggregationStore.
func (s *Store) MoveAggregation(ctx context.Context, owner string, cursor int64) error {
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET seq = $3 WHERE name = $1 AND lease_owner = $2`, aggregationCursor, owner, cursor)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "the push lease was lost; another replica pushes to the parent")
	}
	return nil
}

const federatedColumns = `id, home_hub, lineage, type_code, authority, version, holder_kind, holder_index, holder_sealed, holder_name,
	valid_from, valid_until, state, state_reason, superseded_by, document_key, document_sha256, kid, issued_at, updated_at`

func scanFederated(r Row) (*federation.Version, error) {
	v := &federation.Version{}
	var kind, state string
	var superseded *string
	err := r.Scan(&v.ID, &v.HomeHub, &v.Lineage, &v.Type, &v.Authority, &v.Version, &kind, &v.HolderIndex, &v.HolderSealed, &v.HolderName,
		&v.ValidFrom, &v.ValidUntil, &state, &v.StateReason, &superseded, &v.DocumentKey, &v.DocumentSHA256, &v.KID,
		Time{&v.IssuedAt}, Time{&v.UpdatedAt})
	if err != nil {
		return nil, err
	}
	v.HolderKind, v.State = certificates.HolderKind(kind), certificates.State(state)
	if superseded != nil {
		v.SupersededBy = *superseded
	}
	return v, nil
}

// FederatedVersion implements federation.AggregationStore.
func (s *Store) FederatedVersion(ctx context.Context, id string) (*federation.Version, error) {
	v, err := scanFederated(s.db.QueryRow(ctx, `SELECT `+federatedColumns+` FROM federated_certificates WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no certificate %s was aggregated here", id)
	}
	return v, nil
}

// FederatedVersions lists the versions of a home hub's certificates kept
// here, by id (for the operator and the tests).
func (s *Store) FederatedVersions(ctx context.Context, hub string) ([]*federation.Version, error) {
	return list(ctx, s.db, scanFederated, `SELECT `+federatedColumns+` FROM federated_certificates WHERE home_hub = $1 ORDER BY id`, hub)
}

// InboxCursors implements federation.AggregationStore.
func (s *Store) InboxCursors(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT hub_id, seq FROM federation_inbox`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// stateAfter is the state a lifecycle event leaves a version in.
var stateAfter = map[string]certificates.State{
	exchange.EventSuspended:  certificates.StateSuspended,
	exchange.EventReinstated: certificates.StateValid,
	exchange.EventRevoked:    certificates.StateRevoked,
}

// ApplyPush implements federation.AggregationStore. The inbox row is
// updated first, which holds its lock (on PostgreSQL) until commit: two
// replicas given the same push apply it one after the other, and the
// second finds the cursor already past it.
func (s *Store) ApplyPush(ctx context.Context, hub string, after int64, changes []federation.Change, at time.Time) (int64, int, error) {
	var cursor int64
	applied := 0
	err := s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO federation_inbox (hub_id, seq, updated_at) VALUES ($1, 0, $2) ON CONFLICT (hub_id) DO NOTHING`, hub, at); err != nil {
			return err
		}
		if err := q.QueryRow(ctx, `UPDATE federation_inbox SET updated_at = $2 WHERE hub_id = $1 RETURNING seq`, hub, at).Scan(&cursor); err != nil {
			return err
		}
		if after > cursor {
			return errs.E(errs.Conflict, "hub %s's outbox is applied here through %d, the push continues after %d", hub, cursor, after)
		}
		for _, ch := range changes {
			if ch.Seq <= cursor {
				continue // applied by an earlier push
			}
			if err := applyChange(ctx, q, ch); err != nil {
				return err
			}
			cursor = ch.Seq
			applied++
		}
		_, err := q.Exec(ctx, `UPDATE federation_inbox SET seq = $2 WHERE hub_id = $1`, hub, cursor)
		return err
	})
	return cursor, applied, err
}

func applyChange(ctx context.Context, q Querier, ch federation.Change) error {
	e := ch.Event
	if v := ch.Version; v != nil {
		if _, err := q.Exec(ctx, `INSERT INTO federated_certificates (`+federatedColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
			ON CONFLICT (id) DO NOTHING`,
			v.ID, v.HomeHub, v.Lineage, v.Type, v.Authority, v.Version, string(v.HolderKind), v.HolderIndex, v.HolderSealed, v.HolderName,
			v.ValidFrom, v.ValidUntil, string(v.State), v.StateReason, nil, v.DocumentKey, v.DocumentSHA256, v.KID, v.IssuedAt, v.UpdatedAt); err != nil {
			return err
		}
		if e.Kind == exchange.EventRevised {
			if _, err := q.Exec(ctx, `UPDATE federated_certificates SET state = 'superseded', superseded_by = $1, updated_at = $2
				WHERE lineage = $3 AND version < $4 AND state <> 'superseded'`, v.ID, e.At, v.Lineage, v.Version); err != nil {
				return err
			}
		}
	}
	if st, ok := stateAfter[e.Kind]; ok {
		reason := e.Reason
		if st == certificates.StateValid {
			reason = ""
		}
		if _, err := q.Exec(ctx, `UPDATE federated_certificates SET state = $1, state_reason = $2, updated_at = $3
			WHERE id = $4 AND home_hub = $5`, string(st), reason, e.At, e.CertificateID, e.HomeHub); err != nil {
			return err
		}
	}
	// The event joins this hub's outbox, for its own parent and webhooks.
	_, err := q.Exec(ctx, `INSERT INTO events (id, kind, certificate_id, lineage, type_code, authority, version, reason, at, home_hub)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Kind, e.CertificateID, e.Lineage, e.Type, e.Authority, e.Version, e.Reason, e.At, e.HomeHub)
	return err
}
