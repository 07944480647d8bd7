package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/exchange"
)

// CreateToken implements exchange.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t *exchange.Token) error {
	_, err := s.db.Exec(ctx, `INSERT INTO api_tokens (id, name, role, authority, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Name, string(t.Role), t.Authority, t.Hash, t.CreatedAt)
	return conflict(err, "token %s already exists", t.ID)
}

const tokenColumns = `id, name, role, authority, hash, created_at, revoked_at`

func scanToken(r Row) (*exchange.Token, error) {
	t := &exchange.Token{}
	var role string
	err := r.Scan(&t.ID, &t.Name, &role, &t.Authority, &t.Hash, Time{&t.CreatedAt}, NullTime{&t.RevokedAt})
	t.Role = exchange.Role(role)
	return t, err
}

// TokenByHash implements exchange.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*exchange.Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, notFound(err, "no such token")
	}
	return t, nil
}

// ListTokens implements exchange.TokenStore.
func (s *Store) ListTokens(ctx context.Context) ([]*exchange.Token, error) {
	rows, err := s.db.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*exchange.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements exchange.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, at)
	if err != nil {
		return err
	}
	if n == 0 {
		var x string
		if err := s.db.QueryRow(ctx, `SELECT id FROM api_tokens WHERE id = $1`, id).Scan(&x); err != nil {
			return notFound(err, "token %s does not exist", id)
		}
	}
	return nil
}
