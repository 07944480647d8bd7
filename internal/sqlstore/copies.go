package sqlstore

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// The copies children pushed here, as this hub's own consumers read them,
// and the definitions of their types (docs/federation.md, Serving the
// copies).

// upsertFederatedTypeSQL writes a pushed definition over the one kept
// before: a child's type gains fields, and the latest push knows them.
const upsertFederatedTypeSQL = `INSERT INTO federated_types (code, home_hub, definition, updated_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (code) DO UPDATE SET home_hub = excluded.home_hub, definition = excluded.definition, updated_at = excluded.updated_at`

// federatedTypeStmts are the statements that keep pushed definitions, in
// the push's transaction.
func federatedTypeStmts(types []*exchange.FederatedType) ([]Stmt, error) {
	out := make([]Stmt, 0, len(types))
	for _, ft := range types {
		def, err := json.Marshal(ft.Type)
		if err != nil {
			return nil, errs.Wrap(err, "encode type %s", ft.Type.Code)
		}
		out = append(out, Stmt{SQL: upsertFederatedTypeSQL, Args: []any{ft.Type.Code, ft.HomeHub, string(def), ft.UpdatedAt}})
	}
	return out, nil
}

func scanFederatedType(r Row) (*exchange.FederatedType, error) {
	ft := &exchange.FederatedType{}
	var code, def string
	if err := r.Scan(&code, &ft.HomeHub, &def, Time{&ft.UpdatedAt}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(def), &ft.Type); err != nil {
		return nil, errs.Wrap(err, "decode federated type %s", code)
	}
	return ft, nil
}

// FederatedType implements exchange.Copies' lookup of a definition.
func (s *Store) FederatedType(ctx context.Context, code string) (*exchange.FederatedType, error) {
	ft, err := scanFederatedType(s.db.QueryRow(ctx, `SELECT code, home_hub, definition, updated_at FROM federated_types WHERE code = $1`, code))
	if err != nil {
		return nil, notFound(err, "no child pushed a definition of certificate type %s", code)
	}
	return ft, nil
}

// FederatedTypes lists the federated types' definitions by code.
func (s *Store) FederatedTypes(ctx context.Context) ([]*exchange.FederatedType, error) {
	return list(ctx, s.db, scanFederatedType, `SELECT code, home_hub, definition, updated_at FROM federated_types ORDER BY code`)
}

// FederatedByHolder lists the copies kept here of a holder (by this hub's
// holder index), by id. A hub that keeps none answers without a query.
func (s *Store) FederatedByHolder(ctx context.Context, holderIndex string) ([]*federation.Version, error) {
	if kept, err := s.keepsCopies(ctx); err != nil || !kept {
		return nil, err
	}
	return list(ctx, s.db, scanFederated, `SELECT `+federatedColumns+` FROM federated_certificates WHERE holder_index = $1 ORDER BY id`, holderIndex)
}

// copiesRecheck is how long a replica that found no copies kept believes
// it: a first push applied through another replica is served here at most
// this long after.
const copiesRecheck = time.Second

// copiesKept is what this replica knows of whether any copy is kept: most
// hubs have no children, and without it each lookup of a holder would ask
// the database for their copies, a round trip for nothing. Once a copy is
// seen it is remembered (copies are not removed, only superseded); "none"
// is asked again after copiesRecheck, and forgotten at once when a push
// or backfill is applied through this replica.
type copiesKept struct {
	seen    atomic.Bool
	checked atomic.Int64 // unix nanoseconds of the last "none"
}

// keepsCopies reports whether any copy may be kept here.
func (s *Store) keepsCopies(ctx context.Context) (bool, error) {
	if s.copies.seen.Load() {
		return true, nil
	}
	now := time.Now().UnixNano()
	if now-s.copies.checked.Load() < int64(copiesRecheck) {
		return false, nil
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM federated_certificates LIMIT 1) AS one`).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		s.copies.seen.Store(true)
		return true, nil
	}
	s.copies.checked.Store(now)
	return false, nil
}
