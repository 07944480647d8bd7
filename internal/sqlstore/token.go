package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// CreateToken implements exchange.TokenStore.
func (s *Store) CreateToken(ctx context.Context, t *exchange.Token) error {
	_, err := s.db.Exec(ctx, `INSERT INTO api_tokens (id, name, role, authority, hash, created_at, consumer_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Name, string(t.Role), t.Authority, t.Hash, t.CreatedAt, nullString(t.Consumer))
	return conflict(err, "token %s already exists", t.ID)
}

// tokenColumns reads a token with its consumer's scopes, so that
// authenticating an API key is one query.
const tokenColumns = `t.id, t.name, t.role, t.authority, t.hash, t.created_at, t.revoked_at, COALESCE(t.consumer_id, ''), COALESCE(c.name, ''), COALESCE(c.scopes, '[]')
	FROM api_tokens t LEFT JOIN consumers c ON c.id = t.consumer_id`

func scanToken(r Row) (*exchange.Token, error) {
	t := &exchange.Token{}
	var role, scopes string
	if err := r.Scan(&t.ID, &t.Name, &role, &t.Authority, &t.Hash, Time{&t.CreatedAt}, NullTime{&t.RevokedAt}, &t.Consumer, &t.ConsumerName, &scopes); err != nil {
		return nil, err
	}
	t.Role = exchange.Role(role)
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return nil, errs.Wrap(err, "decode consumer scopes")
	}
	return t, nil
}

// TokenByHash implements exchange.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*exchange.Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` WHERE t.hash = $1`, hash))
	if err != nil {
		return nil, notFound(err, "no such token")
	}
	return t, nil
}

// ListTokens implements exchange.TokenStore.
func (s *Store) ListTokens(ctx context.Context) ([]*exchange.Token, error) {
	return list(ctx, s.db, scanToken, `SELECT `+tokenColumns+` ORDER BY t.created_at, t.id`)
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
