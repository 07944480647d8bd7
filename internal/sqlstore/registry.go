package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

const consumerColumns = `id, name, uscc, contact, scopes, COALESCE(CAST(jwks AS text), ''), status, created_at, revoked_at`

func scanConsumer(r Row) (*exchange.Consumer, error) {
	c := &exchange.Consumer{}
	var scopes, jwks string
	if err := r.Scan(&c.ID, &c.Name, &c.USCC, &c.Contact, &scopes, &jwks, &c.Status, Time{&c.CreatedAt}, NullTime{&c.RevokedAt}); err != nil {
		return nil, err
	}
	if jwks != "" {
		c.JWKS = json.RawMessage(jwks)
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, errs.Wrap(err, "decode consumer scopes")
	}
	return c, nil
}

// CreateConsumer implements exchange.RegistryStore.
func (s *Store) CreateConsumer(ctx context.Context, c *exchange.Consumer) error {
	scopes, _ := json.Marshal(c.Scopes)
	_, err := s.db.Exec(ctx, `INSERT INTO consumers (id, name, uscc, contact, scopes, jwks, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.Name, c.USCC, c.Contact, string(scopes), nullString(string(c.JWKS)), c.Status, c.CreatedAt)
	return conflict(err, "consumer %s already exists", c.ID)
}

// Consumer implements exchange.RegistryStore.
func (s *Store) Consumer(ctx context.Context, id string) (*exchange.Consumer, error) {
	c, err := scanConsumer(s.db.QueryRow(ctx, `SELECT `+consumerColumns+` FROM consumers WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no consumer %s", id)
	}
	return c, nil
}

// ListConsumers implements exchange.RegistryStore.
func (s *Store) ListConsumers(ctx context.Context) ([]*exchange.Consumer, error) {
	return list(ctx, s.db, scanConsumer, `SELECT `+consumerColumns+` FROM consumers ORDER BY created_at, id`)
}

// SetConsumerJWKS implements exchange.RegistryStore.
func (s *Store) SetConsumerJWKS(ctx context.Context, id string, jwks json.RawMessage) error {
	n, err := s.db.Exec(ctx, `UPDATE consumers SET jwks = $2 WHERE id = $1`, id, string(jwks))
	if err == nil && n == 0 {
		err = errs.E(errs.NotFound, "no consumer %s", id)
	}
	return err
}

// RevokeConsumer implements exchange.RegistryStore.
func (s *Store) RevokeConsumer(ctx context.Context, id string, at time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE consumers SET status = 'revoked', revoked_at = $2 WHERE id = $1 AND status = 'active'`, id, at)
		if err != nil {
			return err
		}
		if n == 0 {
			var st string
			if err := q.QueryRow(ctx, `SELECT status FROM consumers WHERE id = $1`, id).Scan(&st); err != nil {
				return notFound(err, "no consumer %s", id)
			}
			return nil // already revoked
		}
		_, err = q.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE consumer_id = $1 AND revoked_at IS NULL`, id, at)
		return err
	})
}

// CreatePurpose implements exchange.RegistryStore.
func (s *Store) CreatePurpose(ctx context.Context, p *exchange.Purpose) error {
	_, err := s.db.Exec(ctx, `INSERT INTO purposes (code, name, kind, basis, created_at) VALUES ($1, $2, $3, $4, $5)`,
		p.Code, p.Name, p.Kind, p.Basis, p.CreatedAt)
	return conflict(err, "purpose %s already exists", p.Code)
}

// ListPurposes implements exchange.RegistryStore.
func (s *Store) ListPurposes(ctx context.Context) ([]*exchange.Purpose, error) {
	return list(ctx, s.db, func(r Row) (*exchange.Purpose, error) {
		p := &exchange.Purpose{}
		return p, r.Scan(&p.Code, &p.Name, &p.Kind, &p.Basis, Time{&p.CreatedAt})
	}, `SELECT code, name, kind, basis, created_at FROM purposes ORDER BY code`)
}

const agreementColumns = `id, consumer_id, grants, purposes, valid_from, valid_until, rate_per_minute, status, requested_by,
	decided_by, decided_at, reason, created_at, updated_at`

func scanAgreement(r Row) (*exchange.Agreement, error) {
	a := &exchange.Agreement{}
	var grants, purposes string
	err := r.Scan(&a.ID, &a.Consumer, &grants, &purposes, &a.ValidFrom, &a.ValidUntil, &a.RatePerMinute, &a.Status, &a.RequestedBy,
		&a.DecidedBy, NullTime{&a.DecidedAt}, &a.Reason, Time{&a.CreatedAt}, Time{&a.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(grants), &a.Grants); err != nil {
		return nil, errs.Wrap(err, "decode agreement grants")
	}
	if err := json.Unmarshal([]byte(purposes), &a.Purposes); err != nil {
		return nil, errs.Wrap(err, "decode agreement purposes")
	}
	return a, nil
}

// CreateAgreement implements exchange.RegistryStore.
func (s *Store) CreateAgreement(ctx context.Context, a *exchange.Agreement) error {
	grants, _ := json.Marshal(a.Grants)
	purposes, _ := json.Marshal(a.Purposes)
	_, err := s.db.Exec(ctx, `INSERT INTO agreements (`+agreementColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		a.ID, a.Consumer, string(grants), string(purposes), a.ValidFrom, a.ValidUntil, a.RatePerMinute, a.Status, a.RequestedBy,
		a.DecidedBy, a.DecidedAt, a.Reason, a.CreatedAt, a.UpdatedAt)
	return conflict(err, "agreement %s already exists", a.ID)
}

// Agreement implements exchange.RegistryStore.
func (s *Store) Agreement(ctx context.Context, id string) (*exchange.Agreement, error) {
	a, err := scanAgreement(s.db.QueryRow(ctx, `SELECT `+agreementColumns+` FROM agreements WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no agreement %s", id)
	}
	return a, nil
}

// ListAgreements implements exchange.RegistryStore.
func (s *Store) ListAgreements(ctx context.Context, consumer string) ([]*exchange.Agreement, error) {
	if consumer == "" {
		return list(ctx, s.db, scanAgreement, `SELECT `+agreementColumns+` FROM agreements ORDER BY created_at DESC, id DESC`)
	}
	return list(ctx, s.db, scanAgreement, `SELECT `+agreementColumns+` FROM agreements WHERE consumer_id = $1 ORDER BY created_at DESC, id DESC`, consumer)
}

// DecideAgreement implements exchange.RegistryStore.
func (s *Store) DecideAgreement(ctx context.Context, a *exchange.Agreement, from string) error {
	n, err := s.db.Exec(ctx, `UPDATE agreements SET status = $2, decided_by = $3, decided_at = $4, reason = $5, updated_at = $6
		WHERE id = $1 AND status = $7`, a.ID, a.Status, a.DecidedBy, a.DecidedAt, a.Reason, a.UpdatedAt, from)
	if err == nil && n == 0 {
		err = errs.E(errs.Conflict, "agreement %s changed meanwhile; read it again", a.ID)
	}
	return err
}

// UseAssertion implements exchange.RegistryStore. Expired entries are
// swept on the way: a replayed assertion past its expiry is refused for
// being expired before it gets here.
func (s *Store) UseAssertion(ctx context.Context, consumer, jti string, expires time.Time) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM client_assertions WHERE expires_at < $1`, time.Now().Add(-time.Hour)); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO client_assertions (consumer_id, jti, expires_at) VALUES ($1, $2, $3)`, consumer, jti, expires)
	return conflict(err, "assertion %s was used before", jti)
}

// list runs a query and scans every row.
func list[T any](ctx context.Context, q Querier, scan func(Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
