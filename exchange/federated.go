package exchange

import (
	"context"
	"time"

	"github.com/certhub/certhub/certificates"
)

// FederatedType is the definition of a certificate type this hub does not
// define, as a child's push carried it with the copies of that type it
// aggregated here (docs/federation.md, Serving the copies). Agreements of
// this hub may grant it; the fields they name are checked against it.
type FederatedType struct {
	// HomeHub is the hub whose push wrote the definition last.
	HomeHub   string
	Type      certificates.Type
	UpdatedAt time.Time
}

// Copies are the read-only copies of other hubs' certificates that this
// hub keeps (aggregation, exchange/federation implements it), as this
// hub's own consumers read them: each a certificates.Certificate with
// HomeHub set, its data read from the document its authority signed.
type Copies interface {
	// FederatedType returns a federated type's definition; errs.NotFound
	// when no child pushed one.
	FederatedType(ctx context.Context, code string) (*FederatedType, error)
	// FindCopies returns the current (not superseded) copies of the
	// holder with this index (this hub's vault's index) of any of types
	// (of every type when none).
	FindCopies(ctx context.Context, holderIndex string, types []string) ([]*certificates.Certificate, error)
	// Copy returns one copy; errs.NotFound when this hub holds none by
	// that id.
	Copy(ctx context.Context, id string) (*certificates.Certificate, error)
	// CopyDocument returns a copy's signed document, as its authority
	// sealed it.
	CopyDocument(ctx context.Context, c *certificates.Certificate) ([]byte, error)
	// HubName names a hub of the federation ("" when unknown).
	HubName(ctx context.Context, hub string) string
}
