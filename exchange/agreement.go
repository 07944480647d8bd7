package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Consumer is a department system that reads certificates: it is bound to
// its organisation, holds credentials (API keys, or a registered JWKS for
// OAuth private_key_jwt) and reads only what its agreements grant.
type Consumer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	USCC    string `json:"uscc"`
	Contact string `json:"contact"`
	// Scopes are the API areas its credentials may call (Scope*).
	Scopes []string `json:"scopes"`
	// JWKS holds the public keys its client assertions are signed with;
	// empty when it uses API keys only.
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	Status    string          `json:"status"` // active or revoked
	CreatedAt time.Time       `json:"created_at"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
}

// Consumer statuses.
const (
	ConsumerActive  = "active"
	ConsumerRevoked = "revoked"
)

// Scopes a consumer's credentials may carry.
const (
	ScopeRead   = "certificates:read" // lookups, reads and (if granted) documents
	ScopeMatch  = "match"             // verify-by-match
	ScopeEvents = "events"            // subscriptions
)

// AllScopes lists every consumer scope.
var AllScopes = []string{ScopeRead, ScopeMatch, ScopeEvents}

// Purpose is a code of the purpose catalog: the legal basis or service item
// a department names in X-Purpose.
type Purpose struct {
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // legal_basis or service_item
	Basis     string    `json:"basis"`
	CreatedAt time.Time `json:"created_at"`
}

// Purpose kinds.
const (
	PurposeLegalBasis  = "legal_basis"
	PurposeServiceItem = "service_item"
)

var purposeCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// Validate checks a catalog entry.
func (p *Purpose) Validate() error {
	var l errs.List
	if !purposeCode.MatchString(p.Code) {
		l.Add("code", "must be 1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	text(&l, "name", p.Name, 200, true)
	if p.Kind != PurposeLegalBasis && p.Kind != PurposeServiceItem {
		l.Add("kind", "must be legal_basis or service_item, got %q", p.Kind)
	}
	text(&l, "basis", p.Basis, 2000, false)
	return l.Err()
}

// Grant is what an agreement allows of one certificate type: the data
// fields the consumer receives (FieldHolderName for the holder's name) and
// whether it may download the whole signed document.
type Grant struct {
	Type     string   `json:"type"`
	Fields   []string `json:"fields"`
	Document bool     `json:"document"`
}

// FieldHolderName, in a grant's fields, discloses the holder's name.
const FieldHolderName = "holder_name"

// Permits reports whether the grant discloses a field.
func (g *Grant) Permits(field string) bool { return slices.Contains(g.Fields, field) }

// Agreement is a sharing agreement (共享责任清单 entry): one consumer, the
// types and fields it may receive, the purposes it may claim, a validity
// period and a rate limit.
type Agreement struct {
	ID            string            `json:"id"`
	Consumer      string            `json:"consumer"`
	Grants        []Grant           `json:"grants"`
	Purposes      []string          `json:"purposes"`
	ValidFrom     certificates.Date `json:"valid_from"`
	ValidUntil    certificates.Date `json:"valid_until"`
	RatePerMinute int               `json:"rate_per_minute"`
	// Status is what was decided: requested, approved, rejected,
	// suspended (under investigation, until resumed) or withdrawn (final).
	// State adds the calendar: an approved agreement is active inside its
	// validity period and expired after it.
	Status      string     `json:"status"`
	State       string     `json:"state"`
	RequestedBy string     `json:"requested_by"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Agreement statuses (stored) and the states computed from them.
const (
	AgreementRequested = "requested"
	AgreementApproved  = "approved"
	AgreementRejected  = "rejected"
	AgreementSuspended = "suspended"
	AgreementWithdrawn = "withdrawn"
	AgreementActive    = "active"
	AgreementExpired   = "expired"
)

// Agreement limits.
const (
	DefaultRatePerMinute = 600
	MaxRatePerMinute     = 600000
)

// StateOn is the agreement's state on a civil date.
func (a *Agreement) StateOn(today certificates.Date) string {
	if a.Status != AgreementApproved {
		return a.Status
	}
	switch {
	case today.Before(a.ValidFrom):
		return AgreementApproved
	case a.ValidUntil.Before(today):
		return AgreementExpired
	}
	return AgreementActive
}

// Grant returns the agreement's grant for a type, or nil.
func (a *Agreement) Grant(typ string) *Grant {
	for i := range a.Grants {
		if a.Grants[i].Type == typ {
			return &a.Grants[i]
		}
	}
	return nil
}

// RegistryStore keeps consumers, the purpose catalog and agreements.
type RegistryStore interface {
	CreateConsumer(ctx context.Context, c *Consumer) error
	// Consumer returns a consumer; errs.NotFound if unknown.
	Consumer(ctx context.Context, id string) (*Consumer, error)
	ListConsumers(ctx context.Context) ([]*Consumer, error)
	// SetConsumerJWKS replaces the registered public keys.
	SetConsumerJWKS(ctx context.Context, id string, jwks json.RawMessage) error
	// RevokeConsumer marks the consumer revoked and revokes its API keys in
	// the same transaction.
	RevokeConsumer(ctx context.Context, id string, at time.Time) error

	CreatePurpose(ctx context.Context, p *Purpose) error
	ListPurposes(ctx context.Context) ([]*Purpose, error)

	CreateAgreement(ctx context.Context, a *Agreement) error
	Agreement(ctx context.Context, id string) (*Agreement, error)
	// ListAgreements lists agreements, newest first; consumer "" for all.
	ListAgreements(ctx context.Context, consumer string) ([]*Agreement, error)
	// DecideAgreement moves an agreement from status from to a.Status,
	// recording who and why; errs.Conflict if it is no longer in from.
	DecideAgreement(ctx context.Context, a *Agreement, from string) error

	// UseAssertion records a client assertion's jti until it expires;
	// errs.Conflict if the consumer used it before.
	UseAssertion(ctx context.Context, consumer, jti string, expires time.Time) error
}

// text checks a free-text field.
func text(l *errs.List, field, v string, max int, required bool) {
	switch {
	case strings.TrimSpace(v) == "":
		if required {
			l.Add(field, "is required")
		}
	case utf8.RuneCountInString(v) > max:
		l.Add(field, "is longer than %d characters", max)
	default:
		if why := certificates.LineProblem(v); why != "" {
			l.Add(field, "%s", why)
		}
	}
}

// ValidateScopes checks requested scopes, naming the field.
func ValidateScopes(l *errs.List, field string, scopes []string) {
	for i, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			l.Add(fmt.Sprintf("%s[%d]", field, i), "unknown scope %q; scopes are %s", s, strings.Join(AllScopes, ", "))
		}
	}
}
