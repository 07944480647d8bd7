package federation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Self is this hub's federation identity.
type Self struct {
	ID        string    `json:"hub_id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Parent    string    `json:"parent,omitempty"`
	ParentURL string    `json:"parent_url,omitempty"`
	Root      RootKey   `json:"root"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// IsRoot reports whether this hub is the federation's root.
func (s *Self) IsRoot() bool { return s.Parent == "" }

// Child is a hub this one admitted.
type Child struct {
	Hub
	// Description is the signed description it was admitted from, or the
	// latest live one read since: the evidence for what the entry states.
	Description string    `json:"-"`
	AdmittedAt  time.Time `json:"admitted_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Store keeps the federation state.
type Store interface {
	// FederationSelf returns this hub's identity (errs.NotFound before
	// certhub federation init).
	FederationSelf(ctx context.Context) (*Self, error)
	// SetFederationSelf writes it.
	SetFederationSelf(ctx context.Context, s *Self) error
	// PutChild inserts or replaces an admitted child.
	PutChild(ctx context.Context, c *Child) error
	// Children lists the admitted children by id.
	Children(ctx context.Context) ([]*Child, error)
	// PutDirectory keeps the last good directory fetched from a hub.
	PutDirectory(ctx context.Context, from string, token []byte, at time.Time) error
	// Directories returns the last good directory of each hub fetched
	// from, by hub id.
	Directories(ctx context.Context) (map[string][]byte, error)
	// RememberRequest keeps a forwarded request's id; errs.Conflict when
	// it was kept before (a replay).
	RememberRequest(ctx context.Context, id, from string, at time.Time) error
	// PruneRequests forgets the request ids kept before a time.
	PruneRequests(ctx context.Context, before time.Time) error
}

// Catalog says what this hub holds.
type Catalog interface {
	ListAuthorities(ctx context.Context) ([]*certificates.Authority, error)
	ListTypes(ctx context.Context) ([]*certificates.Type, error)
}

// Timeouts of calls to other hubs: short and explicit.
const (
	ConnectTimeout = 2 * time.Second
	AnswerTimeout  = 5 * time.Second
)

// NewClient is the HTTP client for calls to other hubs: connect within
// ConnectTimeout, the whole answer within AnswerTimeout.
func NewClient() *http.Client {
	d := &net.Dialer{Timeout: ConnectTimeout}
	t := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: ConnectTimeout, ResponseHeaderTimeout: AnswerTimeout,
		MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, Proxy: http.ProxyFromEnvironment}
	return &http.Client{Transport: t, Timeout: AnswerTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Service runs this hub's part of the federation.
type Service struct {
	Store   Store
	Catalog Catalog
	Key     *signing.HubKey
	// HubKeys keeps the generations of Key; with it Run activates a
	// published key when every hub can have learned it (hubkey.go).
	HubKeys signing.HubKeyStore
	// ActivateAfter is the least time a published key waits before it is
	// activated (HubKeyActivateAfter when 0).
	ActivateAfter time.Duration
	Ledger        *exchange.Ledger
	// Vault protects the holders of certificates children push here;
	// Documents keeps their documents.
	Vault     *signing.Vault
	Documents certificates.DocumentStore
	// Inbox applies children's pushes (aggregation).
	Inbox  AggregationStore
	Client *http.Client
	Log    *slog.Logger
	Now    func() time.Time

	mu       sync.Mutex
	view     *View // merged from the cached directories and this hub's own entries
	viewAt   time.Time
	served   []byte
	servedAt time.Time
	problems map[string]string // by hub fetched from: the last refusal
	fetched  map[string]time.Time
	trust    trustCache // the other hubs' seal keys (trust.go)
	relay    relay      // the federation trust list and other hubs' status lists (offline.go)
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) client() *http.Client {
	if s.Client == nil {
		s.Client = NewClient()
	}
	return s.Client
}

// ownKeys are this hub's published keys as a directory lists them.
func (s *Service) ownKeys() []Key {
	pub := s.Key.Published()
	out := make([]Key, len(pub))
	for i, k := range pub {
		out[i] = Key{KID: k.KID, JWK: k.JWK, State: k.State}
	}
	return out
}

// rootKey is the root key file of a root hub: its published keys now,
// the active one first.
func (s *Service) rootKey(id string) RootKey {
	r := RootKey{HubID: id, KID: s.Key.KID(), JWK: s.Key.PublicJWK()}
	if pub := s.Key.Published(); len(pub) > 1 {
		for _, k := range pub {
			r.Keys = append(r.Keys, RootKeyEntry{KID: k.KID, JWK: k.JWK})
		}
	}
	return r
}

// loadSelf reads this hub's identity. On the root, the root key is its
// own keys as they are now, so its rotation is followed at once.
func (s *Service) loadSelf(ctx context.Context) (*Self, error) {
	self, err := s.Store.FederationSelf(ctx)
	if err == nil && self.IsRoot() {
		self.Root = s.rootKey(self.ID)
	}
	return self, err
}

// Init sets this hub's identity. A root's root key is its own hub key;
// another hub's is the file its operator got from the root's, out of band.
// Re-running it may change the name, URLs and root key, never the id.
func (s *Service) Init(ctx context.Context, self Self) (*Self, error) {
	var l errs.List
	if err := ValidHubID(self.ID); err != nil {
		l.Add("hub_id", "%v", err)
	}
	if p := certificates.LineProblem(self.Name); p != "" {
		l.Add("name", "%s", p)
	} else if strings.TrimSpace(self.Name) == "" || utf8.RuneCountInString(self.Name) > 200 {
		l.Add("name", "a hub's name is required, up to 200 characters")
	}
	if err := checkURL(self.URL); err != nil {
		l.Add("url", "%v", err)
	}
	if self.Parent == "" {
		if self.ParentURL != "" {
			l.Add("parent", "a parent URL without the parent's hub id")
		}
		self.Root = s.rootKey(self.ID)
	} else {
		if err := ValidHubID(self.Parent); err != nil {
			l.Add("parent", "%v", err)
		} else if self.ID != "" && ValidHubID(self.ID) == nil && !ChildOf(self.ID, self.Parent) {
			l.Add("parent", "hub %s is not inside the region of %s: a parent is a higher level of the same region", self.ID, self.Parent)
		}
		if err := checkURL(self.ParentURL); err != nil {
			l.Add("parent_url", "%v", err)
		}
		if _, err := ParseRootKey(mustJSON(self.Root)); err != nil {
			l.Add("root_key", "%v", err)
		} else if self.Root.HubID == self.ID {
			l.Add("root_key", "the root key names this hub (%s); a hub with a parent is not the root", self.ID)
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	self.CreatedAt, self.UpdatedAt = now, now
	old, err := s.Store.FederationSelf(ctx)
	switch {
	case err == nil && old.ID != self.ID:
		return nil, errs.Field("hub_id", "this hub is %s already; a hub's id does not change", old.ID)
	case err == nil:
		self.CreatedAt = old.CreatedAt
	case !errs.Is(err, errs.NotFound):
		return nil, err
	}
	if err := s.Store.SetFederationSelf(ctx, &self); err != nil {
		return nil, err
	}
	s.forget()
	return &self, s.record(ctx, "federation_init", "hub:"+self.ID, self.Name, "ok: "+describeSelf(&self))
}

func describeSelf(s *Self) string {
	if s.IsRoot() {
		return "root " + s.ID
	}
	return fmt.Sprintf("hub %s under %s (root %s)", s.ID, s.Parent, s.Root.HubID)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func checkURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	if strings.ContainsAny(u, " \t\r\n?#") {
		return fmt.Errorf("%q: a base URL has no spaces, query or fragment", u)
	}
	return nil
}

// forget drops what was derived from the stored state.
func (s *Service) forget() {
	s.mu.Lock()
	s.view, s.served = nil, nil
	s.mu.Unlock()
	s.relay.mu.Lock()
	s.relay.fedTL = nil
	s.relay.mu.Unlock()
}

// Self returns this hub's identity, errs.NotFound before init.
func (s *Service) Self(ctx context.Context) (*Self, error) {
	self, err := s.loadSelf(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.NotFound, "this hub is in no federation (certhub federation init)")
	}
	return self, err
}

// hub is this hub as its description and its entry state it.
func (s *Service) hub(ctx context.Context, self *Self) (Hub, error) {
	h := Hub{ID: self.ID, Name: self.Name, URL: strings.TrimRight(self.URL, "/"), Parent: self.Parent, Keys: s.ownKeys(),
		Authorities: []string{}, Types: []string{}}
	h.TrustList = h.URL + "/.well-known/certhub-trust-list"
	as, err := s.Catalog.ListAuthorities(ctx)
	if err != nil {
		return h, err
	}
	for _, a := range as {
		h.Authorities = append(h.Authorities, a.Code)
	}
	ts, err := s.Catalog.ListTypes(ctx)
	if err != nil {
		return h, err
	}
	for _, t := range ts {
		h.Types = append(h.Types, t.Code)
	}
	return h, nil
}

// Describe signs this hub's description, for admission (ttl AdmissionTTL)
// or live at /.well-known/certhub-hub. It refuses when the hub holds an
// authority outside its region: its parent would refuse it.
func (s *Service) Describe(ctx context.Context, ttl time.Duration) ([]byte, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.hub(ctx, self)
	if err != nil {
		return nil, err
	}
	if e := h.check(); e != nil {
		return nil, e
	}
	t, err := signStatement(s.Key, DescriptionType, self.ID, h, s.now(), ttl)
	return []byte(t), err
}

// Admit admits a child from its signed description: it must name this hub
// as its parent, lie inside this hub's region, and hold only authorities
// of its own region. Admitting a hub again replaces what is known of it
// (its keys only from a description signed by a key admitted before).
func (s *Service) Admit(ctx context.Context, description []byte, by string) (*Child, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var known *Hub
	children, err := s.Store.Children(ctx)
	if err != nil {
		return nil, err
	}
	h, _, verr := VerifyDescription(description, nil, now)
	if verr == nil {
		for _, c := range children {
			if c.ID == h.ID {
				known = &c.Hub
			}
		}
		if known != nil {
			h, _, verr = VerifyDescription(description, known, now)
		}
	}
	if verr == nil && h.Parent != self.ID {
		verr = fail(NotParent, h.ID, "the description names %q as its parent, this hub is %s", h.Parent, self.ID)
	}
	if verr != nil {
		_ = s.record(ctx, "federation_admit", by, "", "refused: "+verr.Error())
		return nil, verr
	}
	c := &Child{Hub: *h, Description: strings.TrimSpace(string(description)), AdmittedAt: now, UpdatedAt: now}
	if known != nil {
		for _, old := range children {
			if old.ID == h.ID {
				c.AdmittedAt = old.AdmittedAt
			}
		}
	}
	if err := s.Store.PutChild(ctx, c); err != nil {
		return nil, err
	}
	s.forget()
	return c, s.record(ctx, "federation_admit", by, "", fmt.Sprintf("ok: hub %s (%s) at %s, %d authorities, %d types", c.ID, c.Name, c.URL, len(c.Authorities), len(c.Types)))
}

func (s *Service) record(ctx context.Context, action, actor, actorName, outcome string) error {
	if s.Ledger == nil {
		return nil
	}
	if actorName == "" {
		actorName = actor
	}
	return s.Ledger.Record(ctx, exchange.AuditEntry{Actor: actor, ActorName: actorName, Action: action, Outcome: outcome})
}

// Directory returns the directory this hub serves: its own entry (the
// root signs its own; another hub's comes from its parent), an entry for
// each child signed now, and every other entry it learned from its parent
// and children, as they were signed. It is re-signed every RefreshEvery.
func (s *Service) Directory(ctx context.Context) ([]byte, error) {
	now := s.now()
	s.mu.Lock()
	if s.served != nil && now.Sub(s.servedAt) < RefreshEvery && !now.Before(s.servedAt) {
		b := s.served
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	own, err := s.ownEntries(ctx, self, now)
	if err != nil {
		return nil, err
	}
	view, err := s.merged(ctx, self, now)
	if err != nil {
		return nil, err
	}
	entries := make([]string, 0, len(own)+len(view.Hubs))
	mine := map[string]bool{}
	for id, t := range own {
		entries = append(entries, t)
		mine[id] = true
	}
	for _, e := range view.Sorted() {
		if !mine[e.ID] && !e.Stale {
			entries = append(entries, e.Token)
		}
	}
	slices.Sort(entries)
	b, err := signDirectory(s.Key, self.ID, self.Root.HubID, entries, now)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.served, s.servedAt = b, now
	s.mu.Unlock()
	return b, nil
}

// ownEntries signs the entries this hub vouches for: its children's (and,
// on the root, its own), by hub id.
func (s *Service) ownEntries(ctx context.Context, self *Self, now time.Time) (map[string]string, error) {
	out := map[string]string{}
	if self.IsRoot() {
		h, err := s.hub(ctx, self)
		if err != nil {
			return nil, err
		}
		if out[self.ID], err = signStatement(s.Key, EntryType, self.ID, h, now, EntryTTL); err != nil {
			return nil, err
		}
	}
	children, err := s.Store.Children(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		if out[c.ID], err = signStatement(s.Key, EntryType, self.ID, c.Hub, now, EntryTTL); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// merged verifies the cached directories (a stale one still counts: the
// entries in it carry their own exp) and keeps the newest entry of each
// hub, with this hub's own entries on top.
func (s *Service) merged(ctx context.Context, self *Self, now time.Time) (*View, error) {
	s.mu.Lock()
	if s.view != nil && now.Sub(s.viewAt) < time.Second && !now.Before(s.viewAt) {
		v := s.view
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	cached, err := s.Store.Directories(ctx)
	if err != nil {
		return nil, err
	}
	v := &View{Issuer: self.ID, Root: self.Root.HubID, IssuedAt: now, Expires: now.Add(DirectoryTTL), Hubs: map[string]*Entry{}}
	add := func(e *Entry) {
		if prev := v.Hubs[e.ID]; prev == nil || prev.IssuedAt.Before(e.IssuedAt) || prev.Stale && !e.Stale {
			v.Hubs[e.ID] = e
		}
	}
	for from, tok := range cached {
		if !isDirectory(from) {
			continue // a hub's trust list or licence types, kept beside the directories
		}
		dv, err := VerifyDirectory(tok, self.Root, now, true)
		if err != nil {
			v.Dropped = append(v.Dropped, fmt.Sprintf("the cached directory of %s: %v", from, err))
			continue
		}
		for _, e := range dv.Hubs {
			add(e)
		}
	}
	own, err := s.ownEntries(ctx, self, now)
	if err != nil {
		return nil, err
	}
	if len(own) > 0 {
		// Verify this hub's own entries the same way as everyone's, with
		// its own entry (from its parent) to chain them.
		toks := make([]string, 0, len(own)+len(v.Hubs))
		for _, t := range own {
			toks = append(toks, t)
		}
		for _, e := range v.Hubs {
			toks = append(toks, e.Token)
		}
		hubs, _, err := chain(toks, self.Root, now, true)
		if err == nil {
			for id := range own {
				if e := hubs[id]; e != nil {
					v.Hubs[id] = e
				}
			}
		}
	}
	s.mu.Lock()
	s.view, s.viewAt = v, now
	s.mu.Unlock()
	return v, nil
}

// View is the directory as this hub knows it now: every hub a chain from
// the root vouches for, through the last good directories of its parent
// and children and its own entries.
func (s *Service) View(ctx context.Context) (*View, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	return s.merged(ctx, self, s.now())
}

// Refresh fetches the parent's directory, each child's live description
// and directory, verifies each, and keeps those that pass as the last good
// ones. A refusal is logged and recorded in the ledger; the last good
// directory stays in use.
func (s *Service) Refresh(ctx context.Context) error {
	self, err := s.loadSelf(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var problems []error
	if err := s.Store.PruneRequests(ctx, s.now().Add(-24*time.Hour)); err != nil {
		problems = append(problems, err)
	}
	if !self.IsRoot() {
		if err := s.fetchDirectory(ctx, self, self.Parent, self.ParentURL); err != nil {
			problems = append(problems, err)
		}
	}
	children, err := s.Store.Children(ctx)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := s.refreshChild(ctx, c); err != nil {
			problems = append(problems, err)
		}
		if err := s.fetchDirectory(ctx, self, c.ID, c.URL); err != nil {
			problems = append(problems, err)
		}
	}
	s.forget()
	if err := s.refreshTrustLists(ctx); err != nil {
		problems = append(problems, err)
	}
	return errors.Join(problems...)
}

// RemoteError is a failed call to another hub: unreachable (no answer) or
// an answer that was refused.
type RemoteError struct {
	Hub         string
	Unreachable bool
	Err         error
}

func (e *RemoteError) Error() string {
	side := "remote_hub"
	if e.Unreachable {
		side = "remote_unreachable"
	}
	return fmt.Sprintf("%s %s: %v", side, e.Hub, e.Err)
}

func (e *RemoteError) Unwrap() error { return e.Err }

// get fetches a small document from another hub.
func (s *Service) get(ctx context.Context, hub, url string) ([]byte, error) {
	st, status, b, err := s.roundTrip(ctx, hub, http.MethodGet, url, nil, nil, maxStatement)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, farError(hub, http.MethodGet, url, status, b)
	}
	return b, nil
}

// note keeps the outcome of fetching what (directory, description) from
// hub, for Status. A refusal (the hub answered, and what it answered was
// wrong) goes into the ledger when it first happens or changes, not at
// every refresh; a hub that does not answer is only logged.
func (s *Service) note(ctx context.Context, hub, what string, err error) {
	key := hub + " " + what
	s.mu.Lock()
	if s.problems == nil {
		s.problems, s.fetched = map[string]string{}, map[string]time.Time{}
	}
	changed := false
	if err == nil {
		delete(s.problems, key)
		s.fetched[key] = s.now()
	} else {
		changed = s.problems[key] != err.Error()
		s.problems[key] = err.Error()
	}
	s.mu.Unlock()
	var re *RemoteError
	if changed && errors.As(err, &re) && !re.Unreachable {
		_ = s.record(ctx, "federation_refused", "hub:"+hub, "", "refused: the "+what+" of "+hub+": "+re.Err.Error())
	}
	if err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "federation", "hub", hub, "fetching", what, "error", err.Error())
	}
}

func (s *Service) fetchDirectory(ctx context.Context, self *Self, hub, base string) error {
	b, err := s.get(ctx, hub, strings.TrimRight(base, "/")+"/.well-known/certhub-directory")
	if err == nil {
		if _, verr := VerifyDirectory(b, self.Root, s.now(), false); verr != nil {
			err = &RemoteError{Hub: hub, Err: verr}
		} else {
			err = s.Store.PutDirectory(ctx, hub, b, s.now().UTC())
		}
	}
	s.note(ctx, hub, "directory", err)
	return err
}

// refreshChild reads a child's live description: what it holds now, and
// its keys (a rotation: a key it publishes beside one it was admitted
// with, then activates). Authorities outside its region, or a description
// not signed by a key this hub holds for it, are refused and the entry
// keeps what it said before.
func (s *Service) refreshChild(ctx context.Context, c *Child) error {
	b, err := s.get(ctx, c.ID, strings.TrimRight(c.URL, "/")+"/.well-known/certhub-hub")
	if err != nil {
		s.note(ctx, c.ID, "description", err)
		return err
	}
	h, _, verr := VerifyDescription(b, &c.Hub, s.now())
	if verr == nil && (h.Parent != c.Parent || h.URL != c.URL) {
		verr = fail(BadDescription, c.ID, "its parent or URL changed (%s at %s); admit it again", h.Parent, h.URL)
	}
	if verr != nil {
		err := &RemoteError{Hub: c.ID, Err: verr}
		s.note(ctx, c.ID, "description", err)
		return err
	}
	s.note(ctx, c.ID, "description", nil)
	sameKeys := slices.EqualFunc(h.Keys, c.Keys, func(a, b Key) bool { return a.KID == b.KID && a.State == b.State })
	if slices.Equal(h.Authorities, c.Authorities) && slices.Equal(h.Types, c.Types) && h.Name == c.Name && sameKeys {
		return nil
	}
	next := *c
	next.Name, next.Authorities, next.Types, next.TrustList, next.Keys = h.Name, h.Authorities, h.Types, h.TrustList, h.Keys
	next.Description, next.UpdatedAt = strings.TrimSpace(string(b)), s.now().UTC()
	if err := s.Store.PutChild(ctx, &next); err != nil {
		return err
	}
	if !sameKeys {
		return s.record(ctx, "federation_hub_keys", "hub:"+c.ID, c.Name, "ok: "+describeKeys(h.Keys))
	}
	return nil
}

// Run refreshes every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = RefreshEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil && s.Log != nil {
			s.Log.WarnContext(ctx, "federation refresh", "error", err.Error())
		}
		if _, err := s.StepHubKey(ctx, every); err != nil && ctx.Err() == nil && s.Log != nil {
			s.Log.WarnContext(ctx, "hub key rotation", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Status is what an operator sees of the federation.
type Status struct {
	Self     *Self    `json:"self"`
	Children []*Child `json:"children"`
	Hubs     []*Entry `json:"hubs"`
	Dropped  []string `json:"dropped,omitempty"`
	// Problems and Fetched are keyed by "<hub id> directory", "<hub id>
	// description", "<hub id> trust list" and "<parent id> push": the last
	// failure, and the last success.
	Problems map[string]string `json:"problems,omitempty"`
	Fetched  map[string]string `json:"fetched,omitempty"`
	// Directory is the sha-256 of the directory served now.
	Directory string `json:"directory_sha256,omitempty"`
	// Inbox says how far each child's outbox is applied here.
	Inbox map[string]int64 `json:"inbox,omitempty"`
	// Backfill is where the backfill of the push to the parent stands:
	// its round (2 and more: it started over, and why).
	Backfill *Backfill `json:"backfill,omitempty"`
	// PrunedThrough is the highest seq of this hub's outbox pruned: a
	// parent behind it is caught up by a backfill, not by events.
	PrunedThrough int64 `json:"pruned_through,omitempty"`
}

// Status reports this hub's identity, its children, the hubs it knows and
// the last problems reaching others.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	children, err := s.Store.Children(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.merged(ctx, self, s.now())
	if err != nil {
		return nil, err
	}
	d, err := s.Directory(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(d)
	st := &Status{Self: self, Children: children, Hubs: v.Sorted(), Dropped: v.Dropped, Directory: fmt.Sprintf("%x", sum)}
	if s.Inbox != nil {
		if st.Inbox, err = s.Inbox.InboxCursors(ctx); err != nil {
			return nil, err
		}
		if st.Backfill, err = s.Inbox.Backfill(ctx); errs.Is(err, errs.NotFound) {
			st.Backfill = nil
		} else if err != nil {
			return nil, err
		}
		if st.PrunedThrough, err = s.Inbox.PrunedThrough(ctx); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if len(s.problems) > 0 {
		st.Problems = map[string]string{}
		for k, p := range s.problems {
			st.Problems[k] = p
		}
	}
	if len(s.fetched) > 0 {
		st.Fetched = map[string]string{}
		for k, t := range s.fetched {
			st.Fetched[k] = t.UTC().Format(time.RFC3339)
		}
	}
	s.mu.Unlock()
	return st, nil
}
