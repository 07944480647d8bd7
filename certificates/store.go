package certificates

import (
	"context"
	"time"
)

// Store keeps the registry's metadata and indexes. Implementations: SQLite
// (embedded default) and PostgreSQL; both pass internal/storetest.
type Store interface {
	// CreateAuthority stores a new authority; errs.Conflict if the code exists.
	CreateAuthority(ctx context.Context, a *Authority) error
	// GetAuthority returns an authority; errs.NotFound if unknown.
	GetAuthority(ctx context.Context, code string) (*Authority, error)
	// ListAuthorities lists authorities by code.
	ListAuthorities(ctx context.Context) ([]*Authority, error)
	// GetSeal returns where an authority's seal picture is stored (Key
	// empty if it has none yet); errs.NotFound if the authority is unknown.
	GetSeal(ctx context.Context, code string) (*Seal, error)
	// SetSeal points the authority's seal at s.Key and s.SHA256. With
	// replace false it does so only if the authority has no seal yet, and
	// returns errs.Conflict otherwise; errs.NotFound if the authority is
	// unknown.
	SetSeal(ctx context.Context, s *Seal, replace bool) error

	// CreateType stores a new type; errs.Conflict if the code exists.
	CreateType(ctx context.Context, t *Type) error
	// GetType returns a type; errs.NotFound if unknown.
	GetType(ctx context.Context, code string) (*Type, error)
	// ListTypes lists types by code.
	ListTypes(ctx context.Context) ([]*Type, error)
	// GetTemplate returns a type's stored template, nil if it has none;
	// errs.NotFound if the type is unknown.
	GetTemplate(ctx context.Context, typeCode string) (*Template, error)
	// SetTemplate stores tp as the type's template, replacing any; errs.NotFound
	// if the type is unknown.
	SetTemplate(ctx context.Context, typeCode string, tp *Template, at time.Time) error

	// NextSerial allocates the next serial number for a type and issuer. A
	// serial is never handed out twice, even if the issuance that took it
	// fails.
	NextSerial(ctx context.Context, typeCode, issuer string) (int64, error)
	// NextSerials allocates n consecutive serials and returns the first.
	NextSerials(ctx context.Context, typeCode, issuer string, n int) (int64, error)
	// AllocateStatus hands out n status list entries for new versions, in
	// order: from the lowest-numbered list that is not full, opening a new
	// list of size entries (a random permutation key) when none has room.
	// An entry is never handed out twice, even when the version it was for
	// is never written (like serials). Each version's entry is unique
	// (errs.Conflict on insert otherwise).
	AllocateStatus(ctx context.Context, size, n int, at time.Time) ([]StatusRef, error)
	// StatusEntries returns a list's size and every version in it that is
	// not valid (suspended, revoked or superseded), in index order;
	// errs.NotFound if there is no such list.
	StatusEntries(ctx context.Context, list int) (int, []StatusEntry, error)

	// InsertCertificates stores first versions (with their origins) in one
	// transaction: all or none.
	InsertCertificates(ctx context.Context, cs []*Certificate) error
	// GetOrigins returns what is known of many source records at once,
	// by source key.
	GetOrigins(ctx context.Context, connector string, keys []string) (map[string]*OriginRecord, error)

	// InsertCertificate stores the first version of a certificate. With a
	// non-nil idem, the idempotency record is stored in the same
	// transaction, and so is c.Origin when set (likewise in Supersede); errs.Conflict if the key was taken meanwhile (the caller
	// then reads the winner with GetIdempotency).
	InsertCertificate(ctx context.Context, c *Certificate, idem *Idempotency) error
	// Supersede stores next as the new version of the certificate whose
	// current version is prevID, marking prevID superseded; errs.Conflict if
	// prevID is no longer current and valid or suspended.
	Supersede(ctx context.Context, prevID string, next *Certificate) error
	// SetState moves a certificate version from one of the states in from to
	// to; errs.Conflict if it is in none of them, errs.NotFound if unknown.
	// A non-nil origin is recorded in the same transaction.
	SetState(ctx context.Context, id string, from []State, to State, reason string, at time.Time, origin *Origin) (*Certificate, error)
	// GetOrigin returns what is known of a connector's source record;
	// errs.NotFound if the connector never brought it in.
	GetOrigin(ctx context.Context, connector, sourceKey string) (*OriginRecord, error)
	// GetCertificate returns one version by identifier; errs.NotFound if unknown.
	GetCertificate(ctx context.Context, id string) (*Certificate, error)
	// FindCertificates returns a page of certificates in stable (insertion)
	// order, and the cursor of the next page (0 when there is none).
	FindCertificates(ctx context.Context, q Query) ([]*Certificate, int64, error)

	// DocumentRefs returns the document locations of up to limit
	// certificate versions (superseded ones included) with Seq after
	// after, in Seq order; fewer than limit means there are no more.
	DocumentRefs(ctx context.Context, after int64, limit int) ([]DocumentRef, error)
	// SetDocumentLocation points the version ref.ID at ref.Key,
	// ref.Offset and ref.Length, only if its recorded SHA-256 is
	// ref.SHA256 (a document never changes, only where it is read);
	// errs.NotFound if there is no such version. Only a repair uses it,
	// after reading the bytes at the new location.
	SetDocumentLocation(ctx context.Context, ref DocumentRef) error

	// GetIdempotency returns the record of an earlier request; errs.NotFound
	// if there is none.
	GetIdempotency(ctx context.Context, principal, key string) (*Idempotency, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// Query selects certificates. HolderIndex is the vault's keyed hash of the
// holder; empty fields do not filter. Status filters on the status on Today.
type Query struct {
	HolderIndex string
	Type        string
	Types       []string // any of these (with Type empty)
	Authority   string
	Status      Status
	Today       Date
	After       int64 // cursor: Seq of the last certificate of the previous page
	Limit       int
}

// DocumentRef is where a certificate version's document is stored and
// what it must hash to: Length 0 means the whole object at Key.
type DocumentRef struct {
	Seq    int64
	ID     string
	Key    string
	Offset int64
	Length int64
	SHA256 string
}

// Idempotency records the first result of a request sent with an
// Idempotency-Key, so a retry returns it instead of issuing twice.
type Idempotency struct {
	Principal     string
	Key           string
	RequestHash   string
	CertificateID string
	CreatedAt     time.Time
}

// DocumentStore keeps signed documents. Implementations: a local directory
// (embedded default) and any S3 server; both pass internal/objectstoretest.
type DocumentStore interface {
	// Put writes an object once; errs.Conflict if the key already exists
	// (objects are immutable, never overwritten).
	Put(ctx context.Context, key string, data []byte) error
	// Get reads an object; errs.NotFound if absent.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetRange reads length bytes of an object from offset.
	GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// Ping checks that the store answers and is writable.
	Ping(ctx context.Context) error
}
