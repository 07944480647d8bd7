package sqlstore

import (
	"context"
	"encoding/json"

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
// holder index), by id.
func (s *Store) FederatedByHolder(ctx context.Context, holderIndex string) ([]*federation.Version, error) {
	return list(ctx, s.db, scanFederated, `SELECT `+federatedColumns+` FROM federated_certificates WHERE holder_index = $1 ORDER BY id`, holderIndex)
}
