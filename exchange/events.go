package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Event kinds: what happened to a certificate.
const (
	EventIssued     = "issued"
	EventRevised    = "revised"
	EventSuspended  = "suspended"
	EventReinstated = "reinstated"
	EventRevoked    = "revoked"
	EventExpired    = "expired"
	// EventBackfilled is a child's version that reached this hub by the
	// child's backfill (docs/federation.md), with its state then. It
	// travels on to this hub's parent but is never a webhook: the
	// certificate was not issued now. Not in EventKinds.
	EventBackfilled  = "backfilled"
	eventTypePrefix  = "certificate."
	maxFollowDays    = 366
	maxSubscriptions = 20
)

// EventSettle is how long a reader of the outbox waits for a missing seq
// (a transaction still committing) before passing it as rolled back
// (EventStore.EventsAfter). Certificate transactions commit in
// milliseconds; ten seconds is far beyond.
const EventSettle = 10 * time.Second

// EventKinds lists every kind.
var EventKinds = []string{EventIssued, EventRevised, EventSuspended, EventReinstated, EventRevoked, EventExpired}

// Event is one change to a certificate, written to the outbox in the same
// transaction as the change.
type Event struct {
	Seq           int64     `json:"-"`
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	CertificateID string    `json:"certificate_id"`
	Lineage       string    `json:"-"`
	Type          string    `json:"certificate_type"`
	Authority     string    `json:"authority"`
	Version       int       `json:"version"`
	Reason        string    `json:"reason,omitempty"`
	At            time.Time `json:"occurred_at"`
	// HomeHub is the hub the certificate belongs to when it is not this
	// hub's own: a child's, aggregated here (docs/federation.md).
	HomeHub string `json:"home_hub,omitempty"`
}

// Subscription asks for webhooks: events of certificates matching the
// filters (empty means any), and, with FollowDays, events of every
// certificate the consumer looked up with a case id in the last N days.
type Subscription struct {
	ID          string     `json:"id"`
	Consumer    string     `json:"consumer"`
	URL         string     `json:"url"`
	Types       []string   `json:"types"`
	Authorities []string   `json:"authorities"`
	Events      []string   `json:"events"`
	FollowDays  int        `json:"follow_days"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

// Matches reports whether the filters select an event of a certificate
// the subscription does not follow: Wants(e, false).
func (s *Subscription) Matches(e *Event) bool { return s.Wants(e, false) }

// Wants reports whether the subscription is told of an event. The events
// filter applies to every delivery, followed certificates included. The
// certificate must be followed (a lookup for a case, with FollowDays) or
// selected by the types and authorities filters; a subscription that
// follows lookups and names no type or authority selects certificates by
// its follows only (its events filter says which kinds, not which
// certificates).
func (s *Subscription) Wants(e *Event, followed bool) bool {
	if len(s.Events) > 0 && !slices.Contains(s.Events, e.Kind) {
		return false
	}
	if s.FollowDays > 0 {
		if followed {
			return true
		}
		if len(s.Types) == 0 && len(s.Authorities) == 0 {
			return false
		}
	}
	return (len(s.Types) == 0 || slices.Contains(s.Types, e.Type)) &&
		(len(s.Authorities) == 0 || slices.Contains(s.Authorities, e.Authority))
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Delivery is one event owed to one subscription.
type Delivery struct {
	ID           int64      `json:"id"`
	Subscription string     `json:"subscription"`
	EventSeq     int64      `json:"-"`
	Lineage      string     `json:"-"`
	CaseID       string     `json:"case_id,omitempty"`
	Status       string     `json:"status"`
	Attempts     int        `json:"attempts"`
	NextAt       time.Time  `json:"next_at"`
	LastStatus   int        `json:"last_status,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
	Event        *Event     `json:"event,omitempty"`
	URL          string     `json:"-"`
	// History lists the attempts, oldest first (in the delivery log).
	History []Attempt `json:"history,omitempty"`
}

// Attempt is one try to deliver.
// Finished is one attempt of a delivery, with the delivery as it left it.
type Finished struct {
	Delivery *Delivery
	Attempt  Attempt
}

type Attempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int       `json:"duration_ms"`
}

// EventStore keeps the outbox, subscriptions, follows and deliveries.
type EventStore interface {
	CreateSubscription(ctx context.Context, s *Subscription) error
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// ListSubscriptions lists active subscriptions; consumer "" for all.
	ListSubscriptions(ctx context.Context, consumer string) ([]*Subscription, error)
	DeleteSubscription(ctx context.Context, id string, at time.Time) error

	// Follow records that a consumer relies on certificates (by lineage)
	// for a case until a time; a later follow extends an earlier one.
	Follow(ctx context.Context, consumer, caseID string, lineages []string, until time.Time) error
	// Followers maps lineages to the consumers following them at a time.
	Followers(ctx context.Context, lineages []string, at time.Time) (map[string]map[string]string, error)

	// LeaseDispatch takes (or keeps) the dispatcher's lease and returns
	// the cursor: the last event fanned out. false if another holds it.
	LeaseDispatch(ctx context.Context, owner string, now, until time.Time) (int64, bool, error)
	// EventsAfter lists events after a seq, oldest first, stopping before
	// the first gap in seq whose next event is not older than
	// settledBefore. On PostgreSQL seqs are taken when a transaction
	// inserts and become visible when it commits, so a reader can see
	// seq 11 while 10 is still being committed; moving a cursor past 10
	// then would skip it forever. A gap older than the settle time is a
	// rolled-back transaction's, and is passed.
	EventsAfter(ctx context.Context, seq int64, limit int, settledBefore time.Time) ([]*Event, error)
	// Fanout stores deliveries (a delivery already stored is kept) and
	// moves the cursor, in one transaction, if owner still holds the lease.
	Fanout(ctx context.Context, owner string, ds []*Delivery, cursor int64) error
	// EmitExpired writes an expired event for every certificate still
	// valid whose last day was in [since, today) and that has none yet.
	EmitExpired(ctx context.Context, since, today certificates.Date, at time.Time, newID func() string) (int, error)
	// Prune deletes what is no longer needed from before a time: ended
	// follows, finished deliveries with their attempts, and events already
	// fanned out that no delivery refers to.
	Prune(ctx context.Context, before time.Time) error

	// ClaimDeliveries leases due deliveries until a time: for each
	// subscription and certificate, only the oldest pending one, so a
	// certificate's events arrive in order.
	ClaimDeliveries(ctx context.Context, now, until time.Time, limit int) ([]*Delivery, error)
	// FinishAttempts records attempts and their deliveries' new states,
	// all in one transaction.
	FinishAttempts(ctx context.Context, done []Finished) error
	// ListDeliveries lists a subscription's deliveries, newest first,
	// with their attempts; status "" for all.
	ListDeliveries(ctx context.Context, subscription, status string, limit int) ([]*Delivery, error)
	// Redeliver makes a delivery pending again, due now, with a fresh
	// count of attempts; it returns the subscription it belongs to.
	Redeliver(ctx context.Context, id int64, now time.Time) (string, error)
}

// SubscriptionRequest is the input of a new subscription.
type SubscriptionRequest struct {
	Consumer    string   `json:"consumer"`
	URL         string   `json:"url"`
	Types       []string `json:"types"`
	Authorities []string `json:"authorities"`
	Events      []string `json:"events"`
	FollowDays  int      `json:"follow_days"`
}

// WebhookGuard decides which webhook targets are allowed: http(s) only,
// never the hub itself, and never loopback, link-local, multicast or
// unspecified addresses unless a prefix of Allow contains them (so a test
// or a co-located receiver can be allowed explicitly). Private networks
// (政务外网 addresses are often private) are allowed.
type WebhookGuard struct {
	HubURL string
	Allow  []netip.Prefix
	// Resolve looks a host up; nil uses the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// CheckURL validates a subscription URL, resolving its host.
func (g *WebhookGuard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errs.Field("url", "is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return errs.Field("url", "must be an http or https URL, got scheme %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errs.Field("url", "has no host")
	case u.User != nil:
		return errs.Field("url", "must not carry credentials")
	case len(raw) > 2000:
		return errs.Field("url", "is longer than 2000 characters")
	}
	if hub, err := url.Parse(g.HubURL); err == nil && hub.Host != "" && strings.EqualFold(hostPort(hub), hostPort(u)) {
		return errs.Field("url", "points at the hub itself")
	}
	addrs, err := g.resolve(ctx, u.Hostname())
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no address")
	}
	if err != nil {
		return errs.Field("url", "host %s does not resolve: %v", u.Hostname(), err)
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return errs.Field("url", "%v", err)
		}
	}
	return nil
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func (g *WebhookGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if g.Resolve != nil {
		return g.Resolve(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckAddr refuses an address a webhook must not reach. It is also run
// on the address actually dialled, so DNS cannot be used to get around it.
func (g *WebhookGuard) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	switch {
	case a.IsLoopback():
		return fmt.Errorf("%s is a loopback address; webhooks may not target the hub's own host", a)
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return fmt.Errorf("%s is link-local (cloud metadata services live there)", a)
	case a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s cannot receive webhooks", a)
	}
	return nil
}

// Dialer returns a net.Dialer whose connections are checked by CheckAddr
// after resolution.
func (g *WebhookGuard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		return g.CheckAddr(a)
	}}
}

// validateSubscription checks a request against the catalog and the
// consumer's agreements: every type named must be covered by one of its
// agreements (any purpose), so nobody hears of certificates it may not read.
func (r *Registry) validateSubscription(ctx context.Context, g *WebhookGuard, req *SubscriptionRequest) error {
	var l errs.List
	if err := g.CheckURL(ctx, req.URL); err != nil {
		e := err.(*errs.Error)
		l.Add(e.Field, "%s", e.Message)
	}
	covered, err := r.typesCovered(ctx, req.Consumer, AgreementActive, AgreementApproved)
	if err != nil {
		return err
	}
	if len(covered) == 0 {
		l.Add("consumer", "consumer %s has no approved agreement, so it may hear of no certificate", req.Consumer)
	}
	for i, t := range req.Types {
		if !covered[t] {
			l.Add(fmt.Sprintf("types[%d]", i), "no approved agreement of consumer %s covers type %q", req.Consumer, t)
		}
	}
	for i, a := range req.Authorities {
		if err := certificates.ValidateUSCC(a); err != nil {
			l.Add(fmt.Sprintf("authorities[%d]", i), "%v", err)
		}
	}
	for i, k := range req.Events {
		if !slices.Contains(EventKinds, k) {
			l.Add(fmt.Sprintf("events[%d]", i), "unknown event %q; events are %s", k, strings.Join(EventKinds, ", "))
		}
	}
	if req.FollowDays < 0 || req.FollowDays > maxFollowDays {
		l.Add("follow_days", "must be between 0 and %d", maxFollowDays)
	}
	return l.Err()
}

// eventPayload is the webhook body.
type eventPayload struct {
	Type         string    `json:"type"` // certificate.<kind>
	Event        *Event    `json:"event"`
	Subscription string    `json:"subscription"`
	Delivery     int64     `json:"delivery"`
	CaseID       string    `json:"case_id,omitempty"`
	SentAt       time.Time `json:"sent_at"`
}

func payload(d *Delivery, now time.Time) ([]byte, error) {
	return json.Marshal(eventPayload{Type: eventTypePrefix + d.Event.Kind, Event: d.Event, Subscription: d.Subscription,
		Delivery: d.ID, CaseID: d.CaseID, SentAt: now.UTC()})
}
