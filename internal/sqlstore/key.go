package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

const keyColumns = `kid, authority, algorithm, public_jwk, backend, sealed, status, documents, created_at, retired_at,
	certificate, certificate_chain, certificate_source, compromised_from, compromise_reason`

func insertKey(ctx context.Context, q Querier, k *signing.Key) error {
	_, err := q.Exec(ctx, `INSERT INTO seal_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		k.KID, k.Authority, string(k.Algorithm), string(k.PublicJWK), k.Backend, k.Sealed, string(k.Status), boolInt(k.Documents), k.CreatedAt, k.RetiredAt,
		nilIfEmpty(k.Certificate), nilIfEmpty(k.CertificateChain), string(k.CertificateSource), k.CompromisedFrom, k.CompromiseReason)
	return conflict(err, "authority %s already has an active %s seal key (or the key exists)", k.Authority, k.Algorithm)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// activeKID returns the kid and document flag of the authority's active key
// that the condition selects, "" if none.
func activeKID(ctx context.Context, q Querier, authority, cond string, args ...any) (string, bool, error) {
	var kid string
	var docs int
	err := q.QueryRow(ctx, `SELECT kid, documents FROM seal_keys WHERE authority = $1 AND status = 'active' AND `+cond,
		append([]any{authority}, args...)...).Scan(&kid, &docs)
	if errs.Is(err, errs.NotFound) {
		return "", false, nil
	}
	return kid, docs == 1, err
}

// InsertKey implements signing.KeyStore.
func (s *Store) InsertKey(ctx context.Context, k *signing.Key) error {
	return s.db.InTx(ctx, func(q Querier) error {
		k.Documents = false
		if k.Status == signing.KeyActive {
			kid, _, err := activeKID(ctx, q, k.Authority, `documents = 1`)
			if err != nil {
				return err
			}
			k.Documents = kid == ""
		}
		return insertKey(ctx, q, k)
	})
}

// RotateKey implements signing.KeyStore.
func (s *Store) RotateKey(ctx context.Context, authority string, next *signing.Key, at time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		kid, docs, err := activeKID(ctx, q, authority, `algorithm = $2`, string(next.Algorithm))
		if err == nil && kid == "" {
			kid, docs, err = activeKID(ctx, q, authority, `documents = 1`)
		}
		if err != nil {
			return err
		}
		next.Documents = kid == "" || docs
		if kid != "" {
			n, err := q.Exec(ctx, `UPDATE seal_keys SET status = 'retired', retired_at = $2, documents = 0 WHERE kid = $1 AND status = 'active'`, kid, at)
			if err != nil {
				return err
			}
			if n != 1 {
				return errs.E(errs.Conflict, "seal key %s of authority %s was changed concurrently; try again", kid, authority)
			}
		}
		return insertKey(ctx, q, next)
	})
}

// SetDocumentKey implements signing.KeyStore.
func (s *Store) SetDocumentKey(ctx context.Context, authority string, alg signing.Algorithm) error {
	return s.db.InTx(ctx, func(q Querier) error {
		kid, docs, err := activeKID(ctx, q, authority, `algorithm = $2`, string(alg))
		if err != nil {
			return err
		}
		if kid == "" {
			return errs.E(errs.NotFound, "authority %s has no active %s seal key", authority, alg)
		}
		if docs {
			return nil
		}
		if _, err := q.Exec(ctx, `UPDATE seal_keys SET documents = 0 WHERE authority = $1 AND status = 'active' AND documents = 1`, authority); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE seal_keys SET documents = 1 WHERE kid = $1`, kid)
		return err
	})
}

func scanKey(r Row) (*signing.Key, error) {
	k := &signing.Key{}
	var alg, jwk, status, source string
	var docs int
	err := r.Scan(&k.KID, &k.Authority, &alg, &jwk, &k.Backend, &k.Sealed, &status, &docs, Time{&k.CreatedAt}, NullTime{&k.RetiredAt},
		&k.Certificate, &k.CertificateChain, &source, NullTime{&k.CompromisedFrom}, &k.CompromiseReason)
	k.Algorithm, k.PublicJWK, k.Status, k.Documents = signing.Algorithm(alg), []byte(jwk), signing.KeyStatus(status), docs == 1
	k.CertificateSource = signing.CertSource(source)
	return k, err
}

// ActiveKey implements signing.KeyStore.
func (s *Store) ActiveKey(ctx context.Context, authority string) (*signing.Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM seal_keys WHERE authority = $1 AND status = 'active' AND documents = 1`, authority))
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

// MarkCompromised implements signing.KeyStore.
func (s *Store) MarkCompromised(ctx context.Context, kid string, from time.Time, reason string) error {
	return s.db.InTx(ctx, func(q Querier) error {
		k, err := scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM seal_keys WHERE kid = $1`, kid))
		if err != nil {
			return notFound(err, "seal key %s does not exist", kid)
		}
		if k.CompromisedFrom != nil && k.CompromisedFrom.Before(from) {
			from = *k.CompromisedFrom
		}
		_, err = q.Exec(ctx, `UPDATE seal_keys SET compromised_from = $2, compromise_reason = $3 WHERE kid = $1`, kid, from, reason)
		return err
	})
}
