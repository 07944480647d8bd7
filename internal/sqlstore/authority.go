package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// CreateAuthority implements certificates.Store.
func (s *Store) CreateAuthority(ctx context.Context, a *certificates.Authority) error {
	_, err := s.db.Exec(ctx, `INSERT INTO authorities (code, name, created_at) VALUES ($1, $2, $3)`, a.Code, a.Name, a.CreatedAt)
	return conflict(err, "authority %s already exists", a.Code)
}

// GetAuthority implements certificates.Store.
func (s *Store) GetAuthority(ctx context.Context, code string) (*certificates.Authority, error) {
	a := &certificates.Authority{}
	err := s.db.QueryRow(ctx, `SELECT code, name, created_at FROM authorities WHERE code = $1`, code).
		Scan(&a.Code, &a.Name, Time{&a.CreatedAt})
	if err != nil {
		return nil, notFound(err, "authority %s does not exist", code)
	}
	return a, nil
}

// ListAuthorities implements certificates.Store.
func (s *Store) ListAuthorities(ctx context.Context) ([]*certificates.Authority, error) {
	rows, err := s.db.Query(ctx, `SELECT code, name, created_at FROM authorities ORDER BY code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*certificates.Authority
	for rows.Next() {
		a := &certificates.Authority{}
		if err := rows.Scan(&a.Code, &a.Name, Time{&a.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateType implements certificates.Store.
func (s *Store) CreateType(ctx context.Context, t *certificates.Type) error {
	fields, err := json.Marshal(t.Fields)
	if err != nil {
		return errs.Wrap(err, "encode fields")
	}
	_, err = s.db.Exec(ctx, `INSERT INTO cert_types (code, name, defining_authority, holder_kind, fields, max_validity_days, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Code, t.Name, t.DefiningAuthority, string(t.HolderKind), string(fields), t.MaxValidityDays, t.CreatedAt)
	return conflict(err, "certificate type %s already exists", t.Code)
}

const typeColumns = `code, name, defining_authority, holder_kind, fields, max_validity_days, created_at`

func scanType(r Row) (*certificates.Type, error) {
	t := &certificates.Type{}
	var fields string
	var kind string
	var maxDays *int64
	if err := r.Scan(&t.Code, &t.Name, &t.DefiningAuthority, &kind, &fields, &maxDays, Time{&t.CreatedAt}); err != nil {
		return nil, err
	}
	t.HolderKind = certificates.HolderKind(kind)
	if maxDays != nil {
		d := int(*maxDays)
		t.MaxValidityDays = &d
	}
	if err := json.Unmarshal([]byte(fields), &t.Fields); err != nil {
		return nil, errs.Wrap(err, "decode fields of type %s", t.Code)
	}
	return t, nil
}

// GetType implements certificates.Store.
func (s *Store) GetType(ctx context.Context, code string) (*certificates.Type, error) {
	t, err := scanType(s.db.QueryRow(ctx, `SELECT `+typeColumns+` FROM cert_types WHERE code = $1`, code))
	if err != nil {
		return nil, notFound(err, "certificate type %s does not exist", code)
	}
	return t, nil
}

// ListTypes implements certificates.Store.
func (s *Store) ListTypes(ctx context.Context) ([]*certificates.Type, error) {
	rows, err := s.db.Query(ctx, `SELECT `+typeColumns+` FROM cert_types ORDER BY code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*certificates.Type
	for rows.Next() {
		t, err := scanType(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetSeal implements certificates.Store.
func (s *Store) GetSeal(ctx context.Context, code string) (*certificates.Seal, error) {
	seal := &certificates.Seal{Authority: code}
	var updated *time.Time
	err := s.db.QueryRow(ctx, `SELECT seal_key, seal_sha256, seal_updated_at FROM authorities WHERE code = $1`, code).
		Scan(&seal.Key, &seal.SHA256, NullTime{&updated})
	if err != nil {
		return nil, notFound(err, "authority %s does not exist", code)
	}
	if updated != nil {
		seal.UpdatedAt = *updated
	}
	return seal, nil
}

// SetSeal implements certificates.Store. Without replace the update is
// conditional on the row having no seal, so two replicas drawing the
// default at once store one of them.
func (s *Store) SetSeal(ctx context.Context, seal *certificates.Seal, replace bool) error {
	q := `UPDATE authorities SET seal_key = $2, seal_sha256 = $3, seal_updated_at = $4 WHERE code = $1`
	if !replace {
		q += ` AND seal_key = ''`
	}
	n, err := s.db.Exec(ctx, q, seal.Authority, seal.Key, seal.SHA256, seal.UpdatedAt)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := s.GetSeal(ctx, seal.Authority); err != nil {
			return err
		}
		return errs.E(errs.Conflict, "authority %s already has a seal picture", seal.Authority)
	}
	return nil
}
