package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/signing"
)

const keyColumns = `kid, authority, algorithm, public_jwk, backend, sealed, status, created_at, retired_at`

func insertKey(ctx context.Context, q Querier, k *signing.Key) error {
	_, err := q.Exec(ctx, `INSERT INTO seal_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.KID, k.Authority, string(k.Algorithm), string(k.PublicJWK), k.Backend, k.Sealed, string(k.Status), k.CreatedAt, k.RetiredAt)
	return conflict(err, "authority %s already has an active seal key (or the key exists)", k.Authority)
}

// InsertKey implements signing.KeyStore.
func (s *Store) InsertKey(ctx context.Context, k *signing.Key) error { return insertKey(ctx, s.db, k) }

// RotateKey implements signing.KeyStore.
func (s *Store) RotateKey(ctx context.Context, authority string, next *signing.Key, at time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `UPDATE seal_keys SET status = 'retired', retired_at = $2 WHERE authority = $1 AND status = 'active'`,
			authority, at); err != nil {
			return err
		}
		return insertKey(ctx, q, next)
	})
}

func scanKey(r Row) (*signing.Key, error) {
	k := &signing.Key{}
	var alg, jwk, status string
	err := r.Scan(&k.KID, &k.Authority, &alg, &jwk, &k.Backend, &k.Sealed, &status, Time{&k.CreatedAt}, NullTime{&k.RetiredAt})
	k.Algorithm, k.PublicJWK, k.Status = signing.Algorithm(alg), []byte(jwk), signing.KeyStatus(status)
	return k, err
}

// ActiveKey implements signing.KeyStore.
func (s *Store) ActiveKey(ctx context.Context, authority string) (*signing.Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM seal_keys WHERE authority = $1 AND status = 'active'`, authority))
	if err != nil {
		return nil, notFound(err, "authority %s has no active seal key", authority)
	}
	return k, nil
}

// GetKey implements signing.KeyStore.
func (s *Store) GetKey(ctx context.Context, kid string) (*signing.Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM seal_keys WHERE kid = $1`, kid))
	if err != nil {
		return nil, notFound(err, "seal key %s does not exist", kid)
	}
	return k, nil
}

// ListKeys implements signing.KeyStore.
func (s *Store) ListKeys(ctx context.Context, authority string) ([]*signing.Key, error) {
	rows, err := s.db.Query(ctx, `SELECT `+keyColumns+` FROM seal_keys WHERE ($1 = '' OR authority = $1) ORDER BY created_at, kid`, authority)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*signing.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
