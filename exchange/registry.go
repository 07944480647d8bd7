package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Registry manages consumers, their keys, the purpose catalog and sharing
// agreements, and decides whether a consumer's call is covered. Every
// change is recorded in the ledger.
type Registry struct {
	Store  RegistryStore
	Tokens TokenStore
	Certs  *certificates.Service
	Ledger *Ledger
	Now    func() time.Time
	// Copies are the copies of other hubs' certificates kept here (nil:
	// none): an agreement may grant their types, which children pushed
	// the definitions of.
	Copies Copies

	mu       sync.Mutex
	purposes map[string]*Purpose
	loadedAt time.Time
	// agreements caches each consumer's agreements for AgreementTTL: a
	// decision on this replica clears it at once, on others it shows
	// within the TTL.
	agreements ttlCache[string, []*Agreement]
}

// AgreementTTL is how long a consumer's agreements are cached for the
// checks on its calls.
const AgreementTTL = 2 * time.Second

// consumerAgreements returns a consumer's agreements for checking a call;
// the slice is shared and must not be changed.
func (r *Registry) consumerAgreements(ctx context.Context, consumer string) ([]*Agreement, error) {
	return r.agreements.get(consumer, r.Now(), AgreementTTL, func() ([]*Agreement, error) {
		return r.Store.ListAgreements(ctx, consumer)
	})
}

func (r *Registry) forget(consumer string) { r.agreements.forget(consumer) }

// Actor names a principal in the ledger: role:id, with a consumer named by
// its registry id rather than the credential it used.
func (p *Principal) Actor() string {
	if p.Role == RoleConsumer && p.Consumer != "" {
		return "consumer:" + p.Consumer
	}
	return string(p.Role) + ":" + p.TokenID
}

func (r *Registry) record(ctx context.Context, by *Principal, action, outcome string, agreement string) error {
	return r.Ledger.Record(ctx, AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: action, Agreement: agreement, Outcome: outcome})
}

// CreateConsumer registers a department system.
func (r *Registry) CreateConsumer(ctx context.Context, by *Principal, c *Consumer) error {
	var l errs.List
	text(&l, "name", c.Name, 200, true)
	if err := certificates.ValidateUSCC(c.USCC); err != nil {
		l.Add("uscc", "%v", err)
	}
	text(&l, "contact", c.Contact, 200, false)
	if c.Scopes == nil {
		c.Scopes = slices.Clone(AllScopes)
	}
	ValidateScopes(&l, "scopes", c.Scopes)
	if len(c.JWKS) > 0 {
		if err := ValidateJWKS(c.JWKS); err != nil {
			l.Add("jwks", "%v", err)
		}
	}
	id := NewID("csm_")
	if c.ID != "" {
		// A consumer of another hub of the federation, whose calls that hub
		// forwards here: its id is hub:<hub id>/<its id there>, and this
		// hub's agreements name it so.
		if !FederatedConsumerID(c.ID) {
			l.Add("id", "is given by this hub; set it only for a department system of another hub of the federation, as hub:<hub id>/<its consumer id there> (hub:330102/csm_…)")
		}
		id = c.ID
	}
	if err := l.Err(); err != nil {
		return err
	}
	c.ID, c.Status, c.CreatedAt, c.RevokedAt = id, ConsumerActive, r.Now().UTC().Truncate(time.Microsecond), nil
	if err := r.Store.CreateConsumer(ctx, c); err != nil {
		return err
	}
	return r.record(ctx, by, "consumer_create", "ok: "+c.ID+" "+c.Name, "")
}

// FederatedConsumerID reports whether id names a consumer of another hub:
// hub:<six-digit hub id>/<its consumer id there>.
func FederatedConsumerID(id string) bool {
	hub, local, ok := strings.Cut(strings.TrimPrefix(id, "hub:"), "/")
	return ok && strings.HasPrefix(id, "hub:") && len(hub) == 6 && strings.Trim(hub, "0123456789") == "" &&
		local != "" && len(local) <= 64 && strings.Trim(local, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// FederatedConsumer is the id under which this hub knows consumer of hub.
func FederatedConsumer(hub, consumer string) string { return "hub:" + hub + "/" + consumer }

// SetJWKS replaces a consumer's registered public keys.
func (r *Registry) SetJWKS(ctx context.Context, by *Principal, id string, jwks json.RawMessage) error {
	if err := ValidateJWKS(jwks); err != nil {
		return errs.Field("jwks", "%v", err)
	}
	if _, err := r.activeConsumer(ctx, id); err != nil {
		return err
	}
	if err := r.Store.SetConsumerJWKS(ctx, id, jwks); err != nil {
		return err
	}
	return r.record(ctx, by, "consumer_keys", "ok: "+id+" registered a new JWKS", "")
}

// RevokeConsumer ends a consumer at once: its API keys are revoked with it
// and its access tokens stop being accepted on their next use.
func (r *Registry) RevokeConsumer(ctx context.Context, by *Principal, id string) error {
	err := r.Store.RevokeConsumer(ctx, id, r.Now().UTC())
	if tc, ok := r.Tokens.(*TokenCache); ok {
		tc.Forget() // its keys are revoked with it
	}
	if err != nil {
		return err
	}
	return r.record(ctx, by, "consumer_revoke", "ok: "+id, "")
}

func (r *Registry) activeConsumer(ctx context.Context, id string) (*Consumer, error) {
	c, err := r.Store.Consumer(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != ConsumerActive {
		return nil, errs.E(errs.Conflict, "consumer %s is revoked", id)
	}
	return c, nil
}

// CreateKey makes a static API key for a consumer; the secret is returned
// once and only its hash is kept.
func (r *Registry) CreateKey(ctx context.Context, by *Principal, consumer, name string) (*Token, string, error) {
	c, err := r.activeConsumer(ctx, consumer)
	if err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(name) == "" {
		name = c.Name
	}
	t := &Token{Name: name, Role: RoleConsumer, Consumer: c.ID}
	if err := t.Validate(); err != nil {
		return nil, "", err
	}
	secret := t.Mint(r.Now())
	if err := r.Tokens.CreateToken(ctx, t); err != nil {
		return nil, "", err
	}
	if err := r.record(ctx, by, "consumer_key_create", "ok: "+t.ID+" for "+c.ID, ""); err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// CreatePurpose adds a code to the purpose catalog.
func (r *Registry) CreatePurpose(ctx context.Context, by *Principal, p *Purpose) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.CreatedAt = r.Now().UTC().Truncate(time.Microsecond)
	if err := r.Store.CreatePurpose(ctx, p); err != nil {
		return err
	}
	r.mu.Lock()
	if r.purposes != nil {
		r.purposes[p.Code] = p
	}
	r.mu.Unlock()
	return r.record(ctx, by, "purpose_create", "ok: "+p.Code+" "+p.Name, "")
}

// Purpose returns a catalog entry. The catalog is cached; a code not in the
// cache reloads it (at most once a second), so a code added on another
// replica is known within a second.
func (r *Registry) Purpose(ctx context.Context, code string) (*Purpose, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.purposes[code]; ok {
		return p, nil
	}
	if r.purposes == nil || r.Now().Sub(r.loadedAt) > time.Second {
		ps, err := r.Store.ListPurposes(ctx)
		if err != nil {
			return nil, err
		}
		r.purposes, r.loadedAt = map[string]*Purpose{}, r.Now()
		for _, p := range ps {
			r.purposes[p.Code] = p
		}
	}
	if p, ok := r.purposes[code]; ok {
		return p, nil
	}
	return nil, errs.Field("X-Purpose", "%q is not a code of the purpose catalog (GET /api/v1/purposes lists them)", code)
}

// AgreementRequest is the input of a new agreement.
type AgreementRequest struct {
	Consumer      string   `json:"consumer"`
	Grants        []Grant  `json:"grants"`
	Purposes      []string `json:"purposes"`
	ValidFrom     string   `json:"valid_from"`
	ValidUntil    string   `json:"valid_until"`
	RatePerMinute *int     `json:"rate_per_minute"`
	Reason        string   `json:"reason"`
}

// RequestAgreement files an agreement in state requested. A consumer
// requests for itself; an administrator for any consumer.
func (r *Registry) RequestAgreement(ctx context.Context, by *Principal, req *AgreementRequest) (*Agreement, error) {
	if by.Role == RoleConsumer {
		if req.Consumer != "" && req.Consumer != by.Consumer {
			return nil, errs.E(errs.Forbidden, "a consumer requests agreements for itself only")
		}
		req.Consumer = by.Consumer
	}
	var l errs.List
	if req.Consumer == "" {
		l.Add("consumer", "is required")
	} else if c, err := r.Store.Consumer(ctx, req.Consumer); errs.Is(err, errs.NotFound) {
		l.Add("consumer", "consumer %s does not exist", req.Consumer)
	} else if err != nil {
		return nil, err
	} else if c.Status != ConsumerActive {
		l.Add("consumer", "consumer %s is revoked", req.Consumer)
	}
	if len(req.Grants) == 0 {
		l.Add("grants", "must name at least one certificate type")
	}
	seen := map[string]bool{}
	for i, g := range req.Grants {
		at := fmt.Sprintf("grants[%d]", i)
		if seen[g.Type] {
			l.Add(at+".type", "type %s is granted twice", g.Type)
		}
		seen[g.Type] = true
		t, _, err := r.grantType(ctx, g.Type)
		if errs.Is(err, errs.NotFound) || g.Type == "" {
			l.Add(at+".type", "unknown certificate type %q", g.Type)
			continue
		} else if err != nil {
			return nil, err
		}
		if len(g.Fields) == 0 && !g.Document {
			l.Add(at+".fields", "must grant at least one field (or the document)")
		}
		for j, f := range g.Fields {
			if f != FieldHolderName && !slices.ContainsFunc(t.Fields, func(tf certificates.Field) bool { return tf.Name == f }) {
				l.Add(fmt.Sprintf("%s.fields[%d]", at, j), "type %s has no field %q", t.Code, f)
			}
		}
	}
	if len(req.Purposes) == 0 {
		l.Add("purposes", "must name at least one purpose code")
	}
	for i, code := range req.Purposes {
		if _, err := r.Purpose(ctx, code); err != nil {
			if errs.Is(err, errs.Invalid) {
				l.Add(fmt.Sprintf("purposes[%d]", i), "%q is not a code of the purpose catalog", code)
				continue
			}
			return nil, err
		}
	}
	a := &Agreement{Consumer: req.Consumer, Grants: req.Grants, Purposes: req.Purposes, RatePerMinute: DefaultRatePerMinute,
		Status: AgreementRequested, RequestedBy: by.Actor(), Reason: req.Reason}
	var err error
	if a.ValidFrom, err = certificates.ParseDate(req.ValidFrom); err != nil || req.ValidFrom == "" {
		l.Add("valid_from", "must be a date YYYY-MM-DD")
	}
	if a.ValidUntil, err = certificates.ParseDate(req.ValidUntil); err != nil || req.ValidUntil == "" {
		l.Add("valid_until", "must be a date YYYY-MM-DD (agreements are always time-limited)")
	} else if a.ValidUntil.Before(a.ValidFrom) {
		l.Add("valid_until", "is before valid_from")
	}
	if req.RatePerMinute != nil {
		if *req.RatePerMinute < 1 || *req.RatePerMinute > MaxRatePerMinute {
			l.Add("rate_per_minute", "must be between 1 and %d", MaxRatePerMinute)
		}
		a.RatePerMinute = *req.RatePerMinute
	}
	text(&l, "reason", req.Reason, 2000, false)
	if err := l.Err(); err != nil {
		return nil, err
	}
	now := r.Now().UTC().Truncate(time.Microsecond)
	a.ID, a.CreatedAt, a.UpdatedAt = NewID("agr_"), now, now
	if err := r.Store.CreateAgreement(ctx, a); err != nil {
		return nil, err
	}
	if err := r.record(ctx, by, "agreement_request", "ok: for "+a.Consumer, a.ID); err != nil {
		return nil, err
	}
	a.State = a.StateOn(r.Certs.Today())
	return a, nil
}

// Decisions on an agreement.
const (
	DecideApprove  = "approve"
	DecideReject   = "reject"
	DecideWithdraw = "withdraw"
	// DecideSuspend stops an approved agreement while its consumer is
	// under investigation; DecideResume lifts the suspension.
	DecideSuspend = "suspend"
	DecideResume  = "resume"
)

// decisions maps each decision to the statuses it may start from, the
// status it leads to, and its past participle for messages.
var decisions = map[string]struct {
	from     []string
	to, done string
}{
	DecideApprove:  {[]string{AgreementRequested}, AgreementApproved, "approved"},
	DecideReject:   {[]string{AgreementRequested}, AgreementRejected, "rejected"},
	DecideWithdraw: {[]string{AgreementRequested, AgreementApproved, AgreementSuspended}, AgreementWithdrawn, "withdrawn"},
	DecideSuspend:  {[]string{AgreementApproved}, AgreementSuspended, "suspended"},
	DecideResume:   {[]string{AgreementSuspended}, AgreementApproved, "resumed"},
}

// Decide approves, rejects, suspends, resumes or withdraws an agreement.
// All but withdrawal are for an administrator or the authority that
// defines every type the agreement grants; withdrawal (final) also for the
// consumer itself. Every decision but approval needs a reason. A decision
// takes effect at once on this replica (its cache of the consumer's
// agreements is cleared) and within AgreementTTL on the others.
func (r *Registry) Decide(ctx context.Context, by *Principal, id, decision, reason string) (*Agreement, error) {
	a, err := r.Store.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	d, ok := decisions[decision]
	if !ok {
		return nil, errs.Field("decision", "must be approve, reject, suspend, resume or withdraw")
	}
	was := a.Status
	a.Status = d.to
	if err := r.mayDecide(ctx, by, a, decision); err != nil {
		return nil, err
	}
	if !slices.Contains(d.from, was) {
		return nil, errs.E(errs.Conflict, "agreement %s is %s; it cannot be %s", id, was, d.done)
	}
	var l errs.List
	text(&l, "reason", reason, 2000, decision != DecideApprove)
	if err := l.Err(); err != nil {
		return nil, err
	}
	now := r.Now().UTC().Truncate(time.Microsecond)
	a.DecidedBy, a.DecidedAt, a.UpdatedAt, a.Reason = by.Actor(), &now, now, reason
	if err := r.Store.DecideAgreement(ctx, a, was); err != nil {
		return nil, err
	}
	r.forget(a.Consumer)
	if err := r.record(ctx, by, "agreement_"+decision, "ok: "+reason, a.ID); err != nil {
		return nil, err
	}
	a.State = a.StateOn(r.Certs.Today())
	return a, nil
}

func (r *Registry) mayDecide(ctx context.Context, by *Principal, a *Agreement, decision string) error {
	switch by.Role {
	case RoleAdmin:
		return nil
	case RoleConsumer:
		if decision == DecideWithdraw && by.Consumer == a.Consumer {
			return nil
		}
		return errs.E(errs.Forbidden, "a consumer may only withdraw its own agreements; it cannot %s them", decision)
	case RoleIssuer:
		for _, g := range a.Grants {
			t, federated, err := r.grantType(ctx, g.Type)
			if err != nil {
				return err
			}
			if federated {
				return errs.E(errs.Forbidden, "type %s is another hub's, served here from the copies it aggregated; only an administrator decides its agreements",
					g.Type)
			}
			if t.DefiningAuthority != by.Authority {
				return errs.E(errs.Forbidden, "type %s is defined by authority %s, not %s; its agreements are decided there or by an administrator",
					g.Type, t.DefiningAuthority, by.Authority)
			}
		}
		return nil
	}
	return errs.E(errs.Forbidden, "role %s may not decide agreements", by.Role)
}

// grantType is the definition a grant's type is checked against: this
// hub's own type, else the definition a child pushed with its copies
// (federated). Own types win: a code this hub defines is never read from
// the pushed ones.
func (r *Registry) grantType(ctx context.Context, code string) (*certificates.Type, bool, error) {
	t, err := r.Certs.Type(ctx, code)
	if !errs.Is(err, errs.NotFound) || r.Copies == nil {
		return t, false, err
	}
	ft, ferr := r.Copies.FederatedType(ctx, code)
	if errs.Is(ferr, errs.NotFound) {
		return nil, false, err
	}
	if ferr != nil {
		return nil, false, ferr
	}
	return &ft.Type, true, nil
}

// Agreements lists the agreements a principal may see: all for an
// administrator, its own for a consumer, those granting a type it defines
// for an issuer.
func (r *Registry) Agreements(ctx context.Context, by *Principal, consumer string) ([]*Agreement, error) {
	if by.Role == RoleConsumer {
		consumer = by.Consumer
	}
	as, err := r.Store.ListAgreements(ctx, consumer)
	if err != nil {
		return nil, err
	}
	out := as[:0]
	for _, a := range as {
		if by.Role == RoleIssuer && r.mayDecide(ctx, by, a, DecideApprove) != nil {
			continue
		}
		a.State = a.StateOn(r.Certs.Today())
		out = append(out, a)
	}
	return out, nil
}

// Agreement reads one agreement, if the principal may see it.
func (r *Registry) Agreement(ctx context.Context, by *Principal, id string) (*Agreement, error) {
	a, err := r.Store.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	if (by.Role == RoleConsumer && a.Consumer != by.Consumer) || (by.Role == RoleIssuer && r.mayDecide(ctx, by, a, DecideApprove) != nil) {
		return nil, errs.E(errs.NotFound, "no agreement %s", id)
	}
	a.State = a.StateOn(r.Certs.Today())
	return a, nil
}

// Coverage is what a consumer's active agreements allow for one purpose.
type Coverage struct {
	Consumer string
	Purpose  string
	// ByType maps a certificate type to the agreement that covers it.
	ByType map[string]*Agreement
	// refusals explain, per type, why an agreement did not cover it.
	refusals map[string]string
	all      int
}

// Authorize returns what the consumer's agreements allow for a purpose. A
// purpose not in the catalog is bad input (400); the purpose must be
// covered by at least one active agreement (403 otherwise).
func (r *Registry) Authorize(ctx context.Context, consumer, purpose string) (*Coverage, error) {
	cov, err := r.Coverage(ctx, consumer, purpose)
	if err != nil {
		return nil, err
	}
	if len(cov.ByType) == 0 {
		return nil, cov.refusal("")
	}
	return cov, nil
}

// typesCovered lists the types a consumer's agreements in the given states
// grant, whatever the purpose.
func (r *Registry) typesCovered(ctx context.Context, consumer string, states ...string) (map[string]bool, error) {
	as, err := r.Store.ListAgreements(ctx, consumer)
	if err != nil {
		return nil, err
	}
	today := r.Certs.Today()
	out := map[string]bool{}
	for _, a := range as {
		if slices.Contains(states, a.StateOn(today)) {
			for _, g := range a.Grants {
				out[g.Type] = true
			}
		}
	}
	return out, nil
}

// Coverage is what a consumer's agreements allow for a purpose, possibly
// nothing; a purpose not in the catalog is bad input (400).
func (r *Registry) Coverage(ctx context.Context, consumer, purpose string) (*Coverage, error) {
	if _, err := r.Purpose(ctx, purpose); err != nil {
		return nil, err
	}
	as, err := r.consumerAgreements(ctx, consumer)
	if err != nil {
		return nil, err
	}
	today := r.Certs.Today()
	cov := &Coverage{Consumer: consumer, Purpose: purpose, ByType: map[string]*Agreement{}, refusals: map[string]string{}, all: len(as)}
	// Oldest first, so an active agreement's explanation wins over others.
	for i := len(as) - 1; i >= 0; i-- {
		a := as[i]
		state := a.StateOn(today)
		for _, g := range a.Grants {
			if _, ok := cov.ByType[g.Type]; ok {
				continue
			}
			switch {
			case state != AgreementActive:
				cov.refusals[g.Type] = fmt.Sprintf("agreement %s covering type %s is %s", a.ID, g.Type, describeState(a, state))
			case !slices.Contains(a.Purposes, purpose):
				cov.refusals[g.Type] = fmt.Sprintf("agreement %s covers type %s but not purpose %q (it allows %s)", a.ID, g.Type, purpose, strings.Join(a.Purposes, ", "))
			default:
				cov.ByType[g.Type] = a
				delete(cov.refusals, g.Type)
			}
		}
	}
	return cov, nil
}

// Why explains why no agreement covers a type for the purpose.
func (c *Coverage) Why(typ string) string {
	if why, ok := c.refusals[typ]; ok {
		return why
	}
	return fmt.Sprintf("no agreement of consumer %s covers type %s", c.Consumer, typ)
}

func describeState(a *Agreement, state string) string {
	switch state {
	case AgreementExpired:
		return "expired since " + a.ValidUntil.AddDays(1).String()
	case AgreementApproved:
		return "not valid before " + a.ValidFrom.String()
	case AgreementRequested:
		return "still awaiting approval"
	case AgreementSuspended:
		return "suspended until the deciding authority resumes it"
	}
	return state
}

// For returns the agreement and grant covering a type, or a 403 naming
// what is missing.
func (c *Coverage) For(typ string) (*Agreement, *Grant, error) {
	a, ok := c.ByType[typ]
	if !ok {
		return nil, nil, c.refusal(typ)
	}
	return a, a.Grant(typ), nil
}

func (c *Coverage) refusal(typ string) error {
	if why, ok := c.refusals[typ]; ok && typ != "" {
		return &errs.Error{Code: errs.Forbidden, Field: "type", Message: "no active agreement allows this: " + why}
	}
	if typ != "" {
		return &errs.Error{Code: errs.Forbidden, Field: "type", Message: fmt.Sprintf("no active agreement of consumer %s covers certificate type %s", c.Consumer, typ)}
	}
	if c.all == 0 {
		return errs.E(errs.Forbidden, "consumer %s has no sharing agreement; request one (POST /api/v1/agreements)", c.Consumer)
	}
	why := make([]string, 0, len(c.refusals))
	for _, w := range c.refusals {
		why = append(why, w)
	}
	slices.Sort(why)
	return &errs.Error{Code: errs.Forbidden, Field: "X-Purpose",
		Message: fmt.Sprintf("no active agreement of consumer %s allows purpose %q: %s", c.Consumer, c.Purpose, strings.Join(why, "; "))}
}

// ValidateJWKS checks a consumer's public key set: public keys only, each
// with a kid and an asymmetric signature algorithm.
func ValidateJWKS(raw json.RawMessage) error {
	set, err := jwk.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a JSON Web Key Set: %v", err)
	}
	if set.Len() == 0 || set.Len() > 10 {
		return fmt.Errorf("must hold 1 to 10 keys, has %d", set.Len())
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		alg, _ := k.Algorithm()
		switch {
		case kid == "":
			return fmt.Errorf("key %d has no kid", i)
		case k.Has("d") || k.Has("k") || k.Has("p"):
			return fmt.Errorf("key %s holds private or symmetric material; register public keys only", kid)
		case alg == nil || !slices.Contains(assertionAlgs, alg.String()):
			return fmt.Errorf("key %s must name its alg, one of %s", kid, strings.Join(assertionAlgs, ", "))
		}
	}
	return nil
}

var assertionAlgs = []string{"ES256", "ES384", "EdDSA", "PS256", "RS256"}
