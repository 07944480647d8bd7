package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/signing"
)

// FederationTrustListType is the typ of the federation trust list.
const FederationTrustListType = "certhub-federation-trust-list+jwt"

// relayFresh is how long a relayed status list is served without asking
// its hub again.
const relayFresh = time.Minute

// maxRelayedList bounds the list numbers relayed (a hub of 10 million
// licences has 77 lists of 131,072).
const maxRelayedList = 4096

// FederationTrustList is what an offline verifier needs of the other hubs
// of the federation (docs/federation.md, Offline across hubs): for each, its
// keys (they sign its trust list and its status lists) and its trust list
// as it signed it. This hub signs the whole with its own key, so a clerk's
// page that trusts this hub's key trusts it: this hub verified each entry
// through the directory's chain from the root and each trust list with its
// hub's key.
type FederationTrustList struct {
	Issuer   string       `json:"iss"`
	IssuedAt int64        `json:"iat"`
	Expires  int64        `json:"exp"`
	Hubs     []TrustedHub `json:"hubs"`
}

// TrustedHub is one hub of a federation trust list.
type TrustedHub struct {
	ID   string `json:"hub_id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	Keys []Key  `json:"keys"`
	// TrustList is the hub's last good trust list, the JWS as it signed it.
	TrustList string `json:"trust_list"`
	// LicenceTypes is the hub's licence type catalogue (as its
	// /.well-known/certhub-licence-types, only its own types), to label
	// the fields of its compact QR codes.
	LicenceTypes json.RawMessage `json:"licence_types,omitempty"`
	// Stale is set when no directory vouches for the hub now (it is down
	// or gone): its trust list's exp tells the verifier how old it is.
	Stale bool `json:"stale,omitempty"`
}

// relay keeps the status lists of other hubs this hub passed on.
type relay struct {
	mu    sync.Mutex
	lists map[string]relayed // "<hub>/<list>"
	fedTL []byte
	fedAt time.Time
}

type relayed struct {
	token []byte
	at    time.Time
}

// FederationTrustList signs the federation trust list: every other hub
// of the merged directory with a last good trust list. It is signed again
// at most every RefreshEvery.
func (s *Service) FederationTrustList(ctx context.Context) ([]byte, error) {
	now := s.now()
	s.relay.mu.Lock()
	if s.relay.fedTL != nil && now.Sub(s.relay.fedAt) < RefreshEvery && !now.Before(s.relay.fedAt) {
		b := s.relay.fedTL
		s.relay.mu.Unlock()
		return b, nil
	}
	s.relay.mu.Unlock()
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.merged(ctx, self, now)
	if err != nil {
		return nil, err
	}
	held, err := s.Store.Directories(ctx)
	if err != nil {
		return nil, err
	}
	out := FederationTrustList{Issuer: strings.TrimRight(self.URL, "/"), IssuedAt: now.Unix(), Expires: now.Add(signing.TrustListTTL).Unix(),
		Hubs: []TrustedHub{}}
	for _, e := range v.Sorted() {
		tl, ok := held[trustSource+e.ID]
		if e.ID == self.ID || !ok {
			continue
		}
		out.Hubs = append(out.Hubs, TrustedHub{ID: e.ID, Name: e.Name, URL: strings.TrimRight(e.URL, "/"), Keys: e.Keys,
			TrustList: strings.TrimSpace(string(tl)), LicenceTypes: held[typesSource+e.ID], Stale: e.Stale})
	}
	payload, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	b, err := s.Key.Sign(payload, FederationTrustListType)
	if err != nil {
		return nil, err
	}
	s.relay.mu.Lock()
	s.relay.fedTL, s.relay.fedAt = b, now
	s.relay.mu.Unlock()
	return b, nil
}

// StatusList passes on status list n of another hub (its
// /status/tsl/<n>, statuslist+jwt), so an offline page, which reaches only
// its own hub, can keep it. The list is checked before it is passed on:
// signed by a key of the hub's directory entry, for that hub's URL. It is
// asked for again after a minute; while the hub does not answer, the last
// good one is passed on (its exp says how old it is). errs.NotFound for a
// hub the directory does not name, or a list it does not have.
func (s *Service) StatusList(ctx context.Context, hub string, n int) ([]byte, error) {
	if n < 1 || n > maxRelayedList {
		return nil, errs.E(errs.NotFound, "no status list %d", n)
	}
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v, err := s.merged(ctx, self, now)
	if err != nil {
		return nil, err
	}
	e := v.Hub(hub)
	if e == nil || hub == self.ID {
		return nil, errs.E(errs.NotFound, "no other hub %q in this hub's directory", hub)
	}
	key := fmt.Sprintf("%s/%d", hub, n)
	s.relay.mu.Lock()
	held, ok := s.relay.lists[key]
	s.relay.mu.Unlock()
	if ok && now.Sub(held.at) < relayFresh && !now.Before(held.at) {
		return held.token, nil
	}
	uri := statuslist.TSLURL(e.URL, n)
	b, err := s.fetchStatusList(ctx, e, uri)
	if err != nil {
		if ok && !errs.Is(err, errs.NotFound) {
			if s.Log != nil {
				s.Log.WarnContext(ctx, "status list relay: passing on the last good one", "hub", hub, "list", n, "error", err.Error())
			}
			return held.token, nil
		}
		return nil, err
	}
	s.relay.mu.Lock()
	if s.relay.lists == nil {
		s.relay.lists = map[string]relayed{}
	}
	s.relay.lists[key] = relayed{token: b, at: now}
	s.relay.mu.Unlock()
	return b, nil
}

func (s *Service) fetchStatusList(ctx context.Context, e *Entry, uri string) ([]byte, error) {
	st, status, b, err := s.roundTrip(ctx, e.ID, http.MethodGet, uri, nil, nil, 8<<20)
	switch {
	case err != nil:
		return nil, err
	case st == http.StatusNotFound:
		return nil, errs.E(errs.NotFound, "hub %s has no status list %s", e.ID, uri)
	case st != http.StatusOK:
		return nil, farError(e.ID, http.MethodGet, uri, status, b)
	}
	var claims struct {
		Subject string `json:"sub"`
	}
	tok := strings.TrimSpace(string(b))
	kid, err := Peek(tok, &claims)
	if err == nil {
		err = verifyBy(tok, statuslist.TSLType, kid, &e.Hub, &claims)
	}
	if err == nil && claims.Subject != uri {
		err = fmt.Errorf("the list is %q, not %s", claims.Subject, uri)
	}
	if err != nil {
		return nil, &RemoteError{Hub: e.ID, Err: fmt.Errorf("status list %s: %w", uri, err)}
	}
	return []byte(tok), nil
}
