package sqlstore

import (
	"context"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// nilIfEmpty stores an empty byte slice as NULL.
func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// InsertCARoot implements signing.CAStore.
func (s *Store) InsertCARoot(ctx context.Context, r *signing.CARoot) error {
	_, err := s.db.Exec(ctx, `INSERT INTO seal_ca_roots (family, backend, sealed, certificate, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.Family, r.Backend, r.Sealed, r.Certificate, r.CreatedAt)
	return conflict(err, "the seal CA already has a %s root", r.Family)
}

// CARoots implements signing.CAStore.
func (s *Store) CARoots(ctx context.Context) ([]*signing.CARoot, error) {
	rows, err := s.db.Query(ctx, `SELECT family, backend, sealed, certificate, created_at FROM seal_ca_roots ORDER BY family`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*signing.CARoot
	for rows.Next() {
		r := &signing.CARoot{}
		if err := rows.Scan(&r.Family, &r.Backend, &r.Sealed, &r.Certificate, Time{&r.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetKeyCertificate implements signing.CAStore.
func (s *Store) SetKeyCertificate(ctx context.Context, kid string, cert, chain []byte, source signing.CertSource, onlyIfNone bool) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var has int
		err := q.QueryRow(ctx, `SELECT CASE WHEN certificate IS NULL THEN 0 ELSE 1 END FROM seal_keys WHERE kid = $1`, kid).Scan(&has)
		if err != nil {
			return notFound(err, "seal key %s does not exist", kid)
		}
		cond := ``
		if onlyIfNone {
			if has == 1 {
				return errs.E(errs.Conflict, "seal key %s already has a certificate", kid)
			}
			cond = ` AND certificate IS NULL`
		}
		n, err := q.Exec(ctx, `UPDATE seal_keys SET certificate = $2, certificate_chain = $3, certificate_source = $4 WHERE kid = $1`+cond,
			kid, cert, nilIfEmpty(chain), string(source))
		if err != nil {
			return err
		}
		if n != 1 {
			return errs.E(errs.Conflict, "seal key %s was certified concurrently", kid)
		}
		return nil
	})
}

// SealSubject implements signing.CAStore: an authority's code is its USCC.
func (s *Store) SealSubject(ctx context.Context, authority string) (signing.SealSubject, error) {
	var sub signing.SealSubject
	err := s.db.QueryRow(ctx, `SELECT name, code FROM authorities WHERE code = $1`, authority).Scan(&sub.Name, &sub.USCC)
	return sub, notFound(err, "authority %s does not exist", authority)
}
