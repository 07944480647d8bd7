package certificates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Service runs the registry: catalog, issuance, lifecycle and lookup. It is
// stateless apart from caches of immutable records (types, authorities), so
// any number of replicas can share one Store and DocumentStore.
type Service struct {
	Store     Store
	Documents DocumentStore
	Keys      *signing.Manager
	Vault     *signing.Vault
	Now       func() time.Time
	Location  *time.Location // civil dates (validity, expiry) are in this zone
	Log       *slog.Logger
	// Seals draws the default seal picture of authorities that have none
	// uploaded; nil draws none (then an authority has a seal picture only
	// once one is uploaded).
	Seals SealDrawer
	// PublicURL is how verifiers reach the hub: new documents reference
	// the status lists under it (docs/status-lists.md). Empty (tools that
	// issue without serving) writes documents without status references.
	PublicURL string
	// StatusListSize is the size of status lists opened from now on;
	// 0 means statuslist.MinSize. Smaller lists are for tests only.
	StatusListSize int
	// Cache keeps the records verification reads (statuscache.go); nil
	// reads every one from the store.
	Cache *StatusCache

	types       sync.Map // code -> *Type; types cannot change once created
	authorities sync.Map // code -> *Authority; likewise
	sealOK      sync.Map // certificate id -> true once its stored seal verified
}

// Scope limits what a caller may act on: the zero Scope allows every
// authority, an issuer's Scope only its own.
type Scope struct{ Authority string }

func (sc Scope) check(authority string) error {
	if sc.Authority != "" && sc.Authority != authority {
		return errs.E(errs.Forbidden, "this token may act only for authority %s", sc.Authority)
	}
	return nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Today is the current civil date in the hub's time zone.
func (s *Service) Today() Date { return DateOf(s.Now(), s.Location) }

// CreateAuthority stores a new authority and gives it its first seal key.
func (s *Service) CreateAuthority(ctx context.Context, a *Authority, algorithm string) error {
	var l errs.List
	if err := a.Validate(); err != nil {
		l = append(l, err.(*errs.Error).Fields...)
	}
	alg, err := signing.ParseAlgorithm("algorithm", algorithm)
	if err != nil {
		l = append(l, err.(*errs.Error).Fields...)
	}
	if err := l.Err(); err != nil {
		return err
	}
	a.CreatedAt = s.now()
	if err := s.Store.CreateAuthority(ctx, a); err != nil {
		return err
	}
	if _, err := s.Keys.CreateKey(ctx, a.Code, alg); err != nil {
		return fmt.Errorf("authority %s created without a seal key (run keys rotate to add one): %w", a.Code, err)
	}
	s.drawDefaultSeal(ctx, a)
	return nil
}

// Authority returns an authority, from cache when seen before.
func (s *Service) Authority(ctx context.Context, code string) (*Authority, error) {
	if v, ok := s.authorities.Load(code); ok {
		return v.(*Authority), nil
	}
	a, err := s.Store.GetAuthority(ctx, code)
	if err != nil {
		return nil, err
	}
	s.authorities.Store(code, a)
	return a, nil
}

// CreateType validates and stores a certificate type.
func (s *Service) CreateType(ctx context.Context, t *Type) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if _, err := s.Authority(ctx, t.DefiningAuthority); errs.Is(err, errs.NotFound) {
		return errs.Field("defining_authority", "authority %s does not exist", t.DefiningAuthority)
	} else if err != nil {
		return err
	}
	t.CreatedAt = s.now()
	return s.Store.CreateType(ctx, t)
}

// Type returns a certificate type, from cache when seen before.
func (s *Service) Type(ctx context.Context, code string) (*Type, error) {
	if v, ok := s.types.Load(code); ok {
		return v.(*Type), nil
	}
	t, err := s.Store.GetType(ctx, code)
	if err != nil {
		return nil, err
	}
	s.types.Store(code, t)
	return t, nil
}

// IssueRequest is the input of an issuance.
type IssueRequest struct {
	Type       string         `json:"type"`
	Authority  string         `json:"authority"`
	Holder     Holder         `json:"holder"`
	Data       map[string]any `json:"data"`
	ValidFrom  Date           `json:"valid_from"`
	ValidUntil Date           `json:"valid_until"`
	// Origin is set by connectors (never by API callers).
	Origin *Origin `json:"-"`
}

// validate checks the request against its type, listing every problem. The
// type and authority may be nil when they do not exist.
func (r *IssueRequest) validate(t *Type, tErr, aErr error) error {
	var l errs.List
	switch {
	case r.Type == "":
		l.Add("type", "is required")
	case errs.Is(tErr, errs.NotFound):
		l.Add("type", "certificate type %s does not exist", r.Type)
	}
	switch {
	case r.Authority == "":
		l.Add("authority", "is required")
	case errs.Is(aErr, errs.NotFound):
		if err := ValidateUSCC(r.Authority); err != nil {
			l.Add("authority", "%s", reason(err))
		} else {
			l.Add("authority", "authority %s does not exist", r.Authority)
		}
	}
	if r.Holder.Kind != Person && r.Holder.Kind != Organisation {
		l.Add("holder.kind", "must be person or organisation, got %q", r.Holder.Kind)
	} else {
		if t != nil && t.HolderKind != r.Holder.Kind {
			l.Add("holder.kind", "type %s is held by a %s, not a %s", t.Code, t.HolderKind, r.Holder.Kind)
		}
		if err := ValidateHolderID(r.Holder.Kind, r.Holder.ID); err != nil {
			l.Add("holder.id", "%s", reason(err))
		}
	}
	checkText(&l, "holder.name", r.Holder.Name, 200)
	if t != nil {
		t.ValidateData("data", r.Data, &l)
	}
	validateValidity(&l, t, r.ValidFrom, r.ValidUntil)
	return l.Err()
}

func validateValidity(l *errs.List, t *Type, from, until Date) {
	if from.IsZero() {
		l.Add("valid_from", "is required (YYYY-MM-DD)")
		return
	}
	if !until.IsZero() && until.Before(from) {
		l.Add("valid_until", "%s is before valid_from %s", until, from)
	}
	if t != nil && t.MaxValidityDays != nil {
		switch {
		case until.IsZero():
			l.Add("valid_until", "is required: type %s is valid for at most %d days", t.Code, *t.MaxValidityDays)
		case from.AddDays(*t.MaxValidityDays).Before(until):
			l.Add("valid_until", "type %s is valid for at most %d days after valid_from", t.Code, *t.MaxValidityDays)
		}
	}
}

// prepare looks up a request's type and authority and validates it. fault
// is the request's own problem (invalid, forbidden); err is the hub's.
func (s *Service) prepare(ctx context.Context, sc Scope, r *IssueRequest) (t *Type, a *Authority, fault, err error) {
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	t, tErr := s.Type(ctx, r.Type)
	if tErr != nil && !errs.Is(tErr, errs.NotFound) {
		return nil, nil, nil, tErr
	}
	a, aErr := s.Authority(ctx, r.Authority)
	if aErr != nil && !errs.Is(aErr, errs.NotFound) {
		return nil, nil, nil, aErr
	}
	if fault = r.validate(t, tErr, aErr); fault == nil {
		fault = sc.check(r.Authority)
	}
	return t, a, fault, nil
}

// IdempotencyKey names a request that may be retried.
type IdempotencyKey struct {
	Principal string
	Key       string
}

// Issued is the result of an issuance or revision.
type Issued struct {
	Certificate *Certificate
	Document    []byte
	Replayed    bool // an earlier request with the same Idempotency-Key issued it
}

// Issue validates, seals, stores and indexes a new certificate.
//
// Consistency between the two stores: the document is written first, under
// a key that includes its hash (so it never collides with another attempt),
// and the row that references it is committed after. A failure in between
// leaves an unreferenced object that nothing can reach (see
// docs/architecture.md), never a row without its document.
func (s *Service) Issue(ctx context.Context, sc Scope, r *IssueRequest, idem *IdempotencyKey) (*Issued, error) {
	t, a, fault, err := s.prepare(ctx, sc, r)
	if err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault
	}

	var rec *Idempotency
	if idem != nil {
		body, _ := json.Marshal(r)
		sum := sha256.Sum256(body)
		rec = &Idempotency{Principal: idem.Principal, Key: idem.Key, RequestHash: hex.EncodeToString(sum[:])}
		if done, err := s.replay(ctx, rec); done != nil || err != nil {
			return done, err
		}
	}

	serial, err := s.Store.NextSerial(ctx, t.Code, a.Code)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ident := Identifier{TypeCode: t.Code, Issuer: a.Code, Serial: fmt.Sprintf("%06d", serial), Version: 1}
	c := &Certificate{
		ID: ident.String(), Ident: ident, Type: t.Code, Authority: a.Code, Serial: ident.Serial, Version: 1,
		Holder: r.Holder, Data: r.Data, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
		State: StateValid, IssuedAt: now, UpdatedAt: now, Origin: r.Origin,
	}
	doc, err := s.seal(ctx, c, t, a)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		rec.CertificateID, rec.CreatedAt = c.ID, now
	}
	if err := s.Store.InsertCertificate(ctx, c, rec); err != nil {
		if rec != nil && errs.Is(err, errs.Conflict) {
			// A concurrent retry with the same key won; answer with its result.
			if done, rerr := s.replay(ctx, rec); done != nil || rerr != nil {
				return done, rerr
			}
		}
		return nil, err
	}
	return &Issued{Certificate: c, Document: doc}, nil
}

func (s *Service) replay(ctx context.Context, rec *Idempotency) (*Issued, error) {
	prev, err := s.Store.GetIdempotency(ctx, rec.Principal, rec.Key)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if prev.RequestHash != rec.RequestHash {
		return nil, &errs.Error{Code: errs.Conflict, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was already used for a different request"}
	}
	c, err := s.Get(ctx, prev.CertificateID)
	if err != nil {
		return nil, err
	}
	doc, err := s.document(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Issued{Certificate: c, Document: doc, Replayed: true}, nil
}

// seal fills the holder protection, signs the document and writes it to the
// document store, recording its key, hash and kid on c.
func (s *Service) seal(ctx context.Context, c *Certificate, t *Type, a *Authority) ([]byte, error) {
	c.HolderIndex = s.Vault.Index(string(c.Holder.Kind), c.Holder.ID)
	c.HolderSealed = s.Vault.Seal(string(c.Holder.Kind), c.Holder.ID)
	if c.Status == nil {
		if err := s.allocateStatus(ctx, []*Certificate{c}); err != nil {
			return nil, err
		}
	}
	payload, err := buildCredential(c, t, a, s.Location, s.PublicURL)
	if err != nil {
		return nil, errs.Wrap(err, "build credential")
	}
	doc, kid, err := s.Keys.Seal(ctx, a.Code, payload)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	c.KID = kid
	c.DocumentSHA256 = hex.EncodeToString(sum[:])
	c.DocumentKey = fmt.Sprintf("documents/%s/%s/%s/%03d-%s.jws", c.Type, c.Authority, c.Serial, c.Version, c.DocumentSHA256[:16])
	// The object is the whole document. A revision starts from a copy of
	// the previous version, which may have been a byte range of a batch
	// object: the location is set here in full, never inherited (issue 10).
	c.DocumentOffset, c.DocumentLength = 0, 0
	if err := s.Documents.Put(ctx, c.DocumentKey, doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// ReviseRequest is the input of a revision (变更): the new data in full and,
// optionally, new validity dates or holder name.
type ReviseRequest struct {
	Data       map[string]any `json:"data"`
	ValidFrom  *Date          `json:"valid_from"`
	ValidUntil *Date          `json:"valid_until"`
	HolderName string         `json:"holder_name"`
	Reason     string         `json:"reason"`
	// Origin is set by connectors (never by API callers).
	Origin *Origin `json:"-"`
}

// Revise issues the next version of a certificate; the given version must
// be current (valid or suspended) and becomes superseded.
func (s *Service) Revise(ctx context.Context, sc Scope, id string, r *ReviseRequest) (*Issued, error) {
	prev, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := sc.check(prev.Authority); err != nil {
		return nil, err
	}
	if err := currentAndOpen(prev); err != nil {
		return nil, err
	}
	t, err := s.Type(ctx, prev.Type)
	if err != nil {
		return nil, err
	}
	a, err := s.Authority(ctx, prev.Authority)
	if err != nil {
		return nil, err
	}
	next := *prev
	next.Data, next.StateReason = r.Data, strings.TrimSpace(r.Reason)
	if r.ValidFrom != nil {
		next.ValidFrom = *r.ValidFrom
	}
	if r.ValidUntil != nil {
		next.ValidUntil = *r.ValidUntil
	}
	var l errs.List
	if r.Data == nil {
		l.Add("data", "is required: a revision carries the certificate's data in full")
	} else {
		t.ValidateData("data", r.Data, &l)
	}
	if r.HolderName != "" {
		next.Holder.Name = r.HolderName
		checkText(&l, "holder_name", r.HolderName, 200)
	}
	if len(r.Reason) > 500 {
		l.Add("reason", "is longer than 500 characters")
	}
	validateValidity(&l, t, next.ValidFrom, next.ValidUntil)
	if prev.Version >= 999 {
		l.Add("id", "certificate has reached version 999; issue a new one")
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	next.Version = prev.Version + 1
	next.Ident = prev.Ident.WithVersion(next.Version)
	next.ID = next.Ident.String()
	next.IssuedAt, next.UpdatedAt = s.now(), s.now()
	next.SupersededBy = ""
	next.Status = nil // each version has its own status list entry
	next.Origin = r.Origin
	doc, err := s.seal(ctx, &next, t, a)
	if err != nil {
		return nil, err
	}
	if err := s.Store.Supersede(ctx, prev.ID, &next); err != nil {
		return nil, err
	}
	s.Cache.Changed(lineageOf(prev.ID))
	return &Issued{Certificate: &next, Document: doc}, nil
}

func currentAndOpen(c *Certificate) error {
	switch c.State {
	case StateSuperseded:
		return &errs.Error{Code: errs.Conflict, Field: "id",
			Message: fmt.Sprintf("version %03d is superseded; the current version is %s", c.Version, c.SupersededBy)}
	case StateRevoked:
		return &errs.Error{Code: errs.Conflict, Field: "id", Message: "certificate is revoked"}
	}
	return nil
}

// Action is a lifecycle action on a certificate.
type Action string

// Lifecycle actions.
const (
	Suspend   Action = "suspend"
	Reinstate Action = "reinstate"
	Revoke    Action = "revoke"
)

// Lifecycle applies a lifecycle action to the current version of a
// certificate. A reason is required.
func (s *Service) Lifecycle(ctx context.Context, sc Scope, id string, act Action, reasonText string) (*Certificate, error) {
	return s.LifecycleFrom(ctx, sc, id, act, reasonText, nil)
}

// LifecycleFrom is Lifecycle for a connector: the origin is recorded in the
// same transaction as the change.
func (s *Service) LifecycleFrom(ctx context.Context, sc Scope, id string, act Action, reasonText string, origin *Origin) (*Certificate, error) {
	reasonText = strings.TrimSpace(reasonText)
	var l errs.List
	checkText(&l, "reason", reasonText, 500)
	if err := l.Err(); err != nil {
		return nil, err
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := sc.check(c.Authority); err != nil {
		return nil, err
	}
	if err := currentAndOpen(c); err != nil {
		return nil, err
	}
	var from []State
	var to State
	switch act {
	case Suspend:
		from, to = []State{StateValid}, StateSuspended
	case Reinstate:
		from, to = []State{StateSuspended}, StateValid
	case Revoke:
		from, to = []State{StateValid, StateSuspended}, StateRevoked
	default:
		return nil, errs.Field("action", "unknown lifecycle action %q", act)
	}
	out, err := s.Store.SetState(ctx, c.ID, from, to, reasonText, s.now(), origin)
	if errs.Is(err, errs.Conflict) {
		return nil, &errs.Error{Code: errs.Conflict, Field: "id",
			Message: fmt.Sprintf("cannot %s a certificate that is %s", act, c.StatusOn(s.Today()))}
	}
	if err != nil {
		return nil, err
	}
	s.Cache.Changed(lineageOf(c.ID))
	return out, s.reveal(out)
}

// Get returns one certificate version with its holder id revealed.
func (s *Service) Get(ctx context.Context, id string) (*Certificate, error) {
	ident, err := ParseIdentifier(id)
	if err != nil {
		return nil, err
	}
	c, err := s.Store.GetCertificate(ctx, id)
	if err != nil {
		return nil, err
	}
	c.Ident = ident
	return c, s.reveal(c)
}

func (s *Service) reveal(c *Certificate) error {
	id, err := s.Vault.Open(string(c.Holder.Kind), c.HolderSealed)
	if err != nil {
		return errs.Wrap(err, "open holder id of %s", c.ID)
	}
	c.Holder.ID = id
	return nil
}

// Document returns the signed document of a certificate version, checking
// that object storage returned exactly what was sealed.
func (s *Service) Document(ctx context.Context, id string) (*Certificate, []byte, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	doc, err := s.document(ctx, c)
	return c, doc, err
}

func (s *Service) document(ctx context.Context, c *Certificate) ([]byte, error) {
	var doc []byte
	var err error
	if c.DocumentLength > 0 {
		doc, err = s.Documents.GetRange(ctx, c.DocumentKey, c.DocumentOffset, c.DocumentLength)
	} else {
		doc, err = s.Documents.Get(ctx, c.DocumentKey)
	}
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errs.Wrap(fmt.Errorf("document %s of %s is missing from object storage", c.DocumentKey, c.ID), "read document")
		}
		return nil, err
	}
	sum := sha256.Sum256(doc)
	if hex.EncodeToString(sum[:]) != c.DocumentSHA256 {
		return nil, errs.Wrap(fmt.Errorf("document %s of %s does not match its recorded SHA-256", c.DocumentKey, c.ID), "read document")
	}
	return doc, nil
}

// FindRequest selects certificates for a lookup.
type FindRequest struct {
	HolderID   string
	HolderKind HolderKind
	Type       string
	Types      []string // any of these: one query for many types
	Status     string
	Cursor     int64
	Limit      int
}

// Find lists certificates in stable order, a page at a time.
func (s *Service) Find(ctx context.Context, sc Scope, r FindRequest) ([]*Certificate, int64, error) {
	q := Query{Type: r.Type, Types: r.Types, Authority: sc.Authority, Today: s.Today(), After: r.Cursor, Limit: r.Limit}
	var l errs.List
	if r.HolderID != "" {
		kind := r.HolderKind
		if kind == "" {
			kind = HolderKindOf(r.HolderID)
		}
		if err := ValidateHolderID(kind, r.HolderID); err != nil {
			l.Add("holder_id", "%s", reason(err))
		}
		q.HolderIndex = s.Vault.Index(string(kind), r.HolderID)
	}
	if r.Type != "" {
		if err := ValidateTypeCode(r.Type); err != nil {
			l.Add("type", "%s", reason(err))
		}
	}
	for i, t := range r.Types {
		if err := ValidateTypeCode(t); err != nil {
			l.Add(fmt.Sprintf("types[%d]", i), "%s", reason(err))
		}
	}
	if r.Status != "" {
		st, err := ParseStatus(r.Status)
		if err != nil {
			l.Add("status", "%s", reason(err))
		}
		q.Status = st
	}
	switch {
	case q.Limit == 0:
		q.Limit = 50
	case q.Limit < 1 || q.Limit > 500:
		l.Add("limit", "must be between 1 and 500")
	}
	if err := l.Err(); err != nil {
		return nil, 0, err
	}
	out, next, err := s.Store.FindCertificates(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	for _, c := range out {
		if err := s.reveal(c); err != nil {
			return nil, 0, err
		}
	}
	return out, next, nil
}
