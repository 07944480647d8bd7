package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// FederationSelf implements federation.Store.
func (s *Store) FederationSelf(ctx context.Context) (*federation.Self, error) {
	var rec string
	if err := s.db.QueryRow(ctx, `SELECT record FROM federation_hubs WHERE relation = 'self'`).Scan(&rec); err != nil {
		return nil, notFound(err, "this hub has no federation identity")
	}
	out := &federation.Self{}
	if err := json.Unmarshal([]byte(rec), out); err != nil {
		return nil, errs.Wrap(err, "federation identity")
	}
	return out, nil
}

// SetFederationSelf implements federation.Store.
func (s *Store) SetFederationSelf(ctx context.Context, self *federation.Self) error {
	rec, err := json.Marshal(self)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q Querier) error {
		var child int
		err := q.QueryRow(ctx, `SELECT count(*) FROM federation_hubs WHERE hub_id = $1 AND relation = 'child'`, self.ID).Scan(&child)
		if err != nil {
			return err
		}
		if child > 0 {
			return errs.Field("hub_id", "%s is a child this hub admitted", self.ID)
		}
		if _, err := q.Exec(ctx, `DELETE FROM federation_hubs WHERE relation = 'self' AND hub_id <> $1`, self.ID); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `INSERT INTO federation_hubs (hub_id, relation, record, updated_at) VALUES ($1, 'self', $2, $3)
			ON CONFLICT (hub_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`, self.ID, string(rec), self.UpdatedAt)
		return err
	})
}

// PutChild implements federation.Store.
func (s *Store) PutChild(ctx context.Context, c *federation.Child) error {
	rec, err := json.Marshal(c.Hub)
	if err != nil {
		return err
	}
	n, err := s.db.Exec(ctx, `INSERT INTO federation_hubs (hub_id, relation, record, description, admitted_at, updated_at)
		VALUES ($1, 'child', $2, $3, $4, $5)
		ON CONFLICT (hub_id) DO UPDATE SET record = excluded.record, description = excluded.description, updated_at = excluded.updated_at
		WHERE federation_hubs.relation = 'child'`, c.ID, string(rec), c.Description, c.AdmittedAt, c.UpdatedAt)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "hub %s is this hub itself, not a child", c.ID)
	}
	return nil
}

// Children implements federation.Store.
func (s *Store) Children(ctx context.Context) ([]*federation.Child, error) {
	rows, err := s.db.Query(ctx, `SELECT record, description, admitted_at, updated_at FROM federation_hubs
		WHERE relation = 'child' ORDER BY hub_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*federation.Child
	for rows.Next() {
		var rec string
		c := &federation.Child{}
		if err := rows.Scan(&rec, &c.Description, Time{&c.AdmittedAt}, Time{&c.UpdatedAt}); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(rec), &c.Hub); err != nil {
			return nil, errs.Wrap(err, "federation child")
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PutDirectory implements federation.Store.
func (s *Store) PutDirectory(ctx context.Context, from string, token []byte, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO federation_directories (source, token, fetched_at) VALUES ($1, $2, $3)
		ON CONFLICT (source) DO UPDATE SET token = excluded.token, fetched_at = excluded.fetched_at`, from, string(token), at)
	return err
}

// Directories implements federation.Store.
func (s *Store) Directories(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.Query(ctx, `SELECT source, token FROM federation_directories`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var src, tok string
		if err := rows.Scan(&src, &tok); err != nil {
			return nil, err
		}
		out[src] = []byte(tok)
	}
	return out, rows.Err()
}

// RememberRequest implements federation.Store.
func (s *Store) RememberRequest(ctx context.Context, id, from string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO federation_requests (request_id, from_hub, received_at) VALUES ($1, $2, $3)`, id, from, at)
	return conflict(err, "request %s was presented before", id)
}

// PruneRequests implements federation.Store.
func (s *Store) PruneRequests(ctx context.Context, before time.Time) error {
	_, err := s.db.Exec(ctx, `DELETE FROM federation_requests WHERE received_at < $1`, before)
	return err
}
