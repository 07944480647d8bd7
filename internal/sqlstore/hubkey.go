package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// HubKeys implements signing.HubKeyStore.
func (s *Store) HubKeys(ctx context.Context) ([]signing.HubKeyRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT generation, state, created_at, activated_at, retired_at, vouched_at
		FROM hub_keys ORDER BY generation`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []signing.HubKeyRecord
	for rows.Next() {
		var r signing.HubKeyRecord
		if err := rows.Scan(&r.Generation, &r.State, Time{&r.CreatedAt}, NullTime{&r.ActivatedAt}, NullTime{&r.RetiredAt},
			NullTime{&r.VouchedAt}); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddHubKey implements signing.HubKeyStore.
func (s *Store) AddHubKey(ctx context.Context, r signing.HubKeyRecord) error {
	_, err := s.db.Exec(ctx, `INSERT INTO hub_keys (generation, state, created_at, activated_at) VALUES ($1, $2, $3, $4)`,
		r.Generation, r.State, r.CreatedAt.UTC(), r.ActivatedAt)
	return conflict(err, "hub key generation %d exists", r.Generation)
}

// ActivateHubKey implements signing.HubKeyStore: the active generation is
// retired and gen activated in one transaction, so there is always exactly
// one active generation and two replicas activating at once do it once.
func (s *Store) ActivateHubKey(ctx context.Context, gen int, at time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var state string
		if err := q.QueryRow(ctx, `SELECT state FROM hub_keys WHERE generation = $1`, gen).Scan(&state); err != nil {
			return notFound(err, "no hub key generation %d", gen)
		}
		if state != signing.HubKeyInactive {
			return errs.E(errs.Conflict, "hub key generation %d is %s, not inactive", gen, state)
		}
		if _, err := q.Exec(ctx, `UPDATE hub_keys SET state = 'retired', retired_at = $1 WHERE state = 'active'`, at.UTC()); err != nil {
			return err
		}
		n, err := q.Exec(ctx, `UPDATE hub_keys SET state = 'active', activated_at = $1 WHERE generation = $2 AND state = 'inactive'`, at.UTC(), gen)
		if err != nil {
			return err
		}
		if n != 1 {
			return errs.E(errs.Conflict, "hub key generation %d was activated by another replica", gen)
		}
		return nil
	})
}

// VouchHubKey implements signing.HubKeyStore: the first time only.
func (s *Store) VouchHubKey(ctx context.Context, gen int, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE hub_keys SET vouched_at = $1 WHERE generation = $2 AND vouched_at IS NULL`, at.UTC(), gen)
	return err
}
