package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// BadTrustList is the reason a hub's trust list is refused: not signed by
// an active key of the hub's directory entry, malformed, expired when
// fetched, older than the one held, or stating a key that is not a public
// key of its algorithm named by its thumbprint. A key of an authority
// outside the hub's region is refused as OutsideRegion.
const BadTrustList Reason = "bad_trust_list"

// trustSource prefixes the store's source key of a hub's last good trust
// list ("trust-list:330102"), kept beside the directories; typesSource
// that of its licence type catalogue ("licence-types:330102").
const (
	trustSource = "trust-list:"
	typesSource = "licence-types:"
)

// isDirectory reports whether a source key of the store is a hub's
// directory (not one of the lists kept beside them).
func isDirectory(from string) bool {
	return !strings.HasPrefix(from, trustSource) && !strings.HasPrefix(from, typesSource)
}

// trustCache indexes the seal keys of the other hubs by kid, from the last
// good trust lists in the store. It is rebuilt after every refresh, and at
// least every RefreshEvery (another replica may have refreshed).
type trustCache struct {
	mu   sync.Mutex
	keys map[string]*signing.ForeignKey
	at   time.Time
}

func (c *trustCache) reset() {
	c.mu.Lock()
	c.keys = nil
	c.mu.Unlock()
}

// refreshTrustLists fetches the trust list of every other hub the merged
// directory vouches for live, verifies it with that hub's active key from
// its entry, and keeps it as the hub's last good one. A refusal is noted
// like a refused directory; the last good trust list stays in use, stale
// or not: verification of what a hub sealed keeps working while it is down.
func (s *Service) refreshTrustLists(ctx context.Context) error {
	self, err := s.loadSelf(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	v, err := s.merged(ctx, self, now)
	if err != nil {
		return err
	}
	held, err := s.Store.Directories(ctx)
	if err != nil {
		return err
	}
	var problems []error
	for _, e := range v.Sorted() {
		if e.ID == self.ID || e.Stale {
			continue
		}
		if err := s.fetchTrustList(ctx, e, held[trustSource+e.ID]); err != nil {
			problems = append(problems, err)
		}
		if err := s.fetchLicenceTypes(ctx, e); err != nil {
			problems = append(problems, err)
		}
	}
	s.trust.reset()
	return errors.Join(problems...)
}

func (s *Service) fetchTrustList(ctx context.Context, e *Entry, held []byte) error {
	if !strings.HasPrefix(e.TrustList, "http://") && !strings.HasPrefix(e.TrustList, "https://") {
		err := &RemoteError{Hub: e.ID, Err: fail(BadTrustList, e.ID, "its entry names no http(s) trust list (%q)", e.TrustList)}
		s.note(ctx, e.ID, "trust list", err)
		return err
	}
	now := s.now()
	b, err := s.get(ctx, e.ID, e.TrustList)
	if err == nil {
		tl, verr := VerifyTrustList(b, &e.Hub, now, true)
		if verr == nil && held != nil {
			// A list older than the one held (a replay) is refused: it
			// could predate a key's compromise mark.
			if old, oerr := VerifyTrustList(held, &e.Hub, now, false); oerr == nil && old.IssuedAt > tl.IssuedAt {
				verr = fail(BadTrustList, e.ID, "issued at %s, before the one held (%s)",
					time.Unix(tl.IssuedAt, 0).UTC().Format(time.RFC3339), time.Unix(old.IssuedAt, 0).UTC().Format(time.RFC3339))
			}
		}
		if verr != nil {
			err = &RemoteError{Hub: e.ID, Err: verr}
		} else {
			err = s.Store.PutDirectory(ctx, trustSource+e.ID, bytes.TrimSpace(b), now.UTC())
		}
	}
	s.note(ctx, e.ID, "trust list", err)
	return err
}

// maxLicenceTypes bounds a hub's licence type catalogue.
const maxLicenceTypes = 1 << 20

// fetchLicenceTypes keeps the licence type catalogue of hub e
// (/.well-known/certhub-licence-types: names and labels of the fields of
// its compact QR codes), limited to the types its entry lists, so that an
// offline page labels another hub's licences (the federation trust list
// carries it, under this hub's signature). The catalogue names things and
// decides nothing; a hub that does not serve one is left without labels.
func (s *Service) fetchLicenceTypes(ctx context.Context, e *Entry) error {
	url := strings.TrimRight(e.URL, "/") + "/.well-known/certhub-licence-types"
	b, err := s.get(ctx, e.ID, url)
	if err == nil {
		var cat struct {
			Profile string                     `json:"profile"`
			Types   map[string]json.RawMessage `json:"types"`
		}
		switch {
		case len(b) > maxLicenceTypes:
			err = &RemoteError{Hub: e.ID, Err: fmt.Errorf("licence types: %d bytes, over %d", len(b), maxLicenceTypes)}
		case json.Unmarshal(b, &cat) != nil || cat.Profile != "CH1":
			err = &RemoteError{Hub: e.ID, Err: errors.New("licence types: not a CH1 licence type catalogue")}
		default:
			for code, def := range cat.Types {
				var obj map[string]json.RawMessage
				if !slices.Contains(e.Types, code) || json.Unmarshal(def, &obj) != nil {
					delete(cat.Types, code) // not its type to name, or not an entry
				}
			}
			kept, _ := json.Marshal(cat)
			err = s.Store.PutDirectory(ctx, typesSource+e.ID, kept, s.now().UTC())
		}
	}
	s.note(ctx, e.ID, "licence types", err)
	return err
}

// VerifyTrustList checks hub h's trust list (signing.Manager.TrustList's
// compact JWS, typ signing.TrustListType) at now: signed by an active key
// of h named by its kid; iss, iat and exp present; iat not in the future
// and, when live (just fetched), exp not past (a list held from before
// stays usable: the hub may be down); every key of an authority inside
// h's region, with a JWK that is a public key of its alg whose thumbprint
// is its kid.
func VerifyTrustList(token []byte, h *Hub, now time.Time, live bool) (*signing.TrustList, error) {
	if len(token) > maxStatement {
		return nil, fail(BadTrustList, h.ID, "%d bytes, over the %d a trust list may have", len(token), maxStatement)
	}
	tok := string(bytes.TrimSpace(token))
	var unverified struct{}
	kid, err := Peek(tok, &unverified)
	if err != nil {
		return nil, fail(BadTrustList, h.ID, "%v", err)
	}
	var tl signing.TrustList
	if err := verifyBy(tok, signing.TrustListType, kid, h, &tl); err != nil {
		return nil, fail(BadTrustList, h.ID, "%v", err)
	}
	if tl.Issuer == "" || tl.IssuedAt == 0 || tl.Expires == 0 {
		return nil, fail(BadTrustList, h.ID, "iss, iat and exp are required")
	}
	if iat := time.Unix(tl.IssuedAt, 0); iat.After(now.Add(clockSkew)) {
		return nil, fail(BadTrustList, h.ID, "issued at %s, in the future", iat.UTC().Format(time.RFC3339))
	}
	if exp := time.Unix(tl.Expires, 0); live && !now.Before(exp) {
		return nil, fail(BadTrustList, h.ID, "expired at %s", exp.UTC().Format(time.RFC3339))
	}
	for i := range tl.Keys {
		k := &tl.Keys[i]
		r, err := AuthorityRegion(k.Authority)
		if err != nil {
			return nil, fail(OutsideRegion, h.ID, "key %s: authority: %v", k.KID, err)
		}
		if !Within(r, h.ID) {
			return nil, fail(OutsideRegion, h.ID, "key %s is of authority %s, registered in region %s, outside hub %s's region", k.KID, k.Authority, r, h.ID)
		}
		if _, _, err := k.PublicKey(); err != nil {
			return nil, fail(BadTrustList, h.ID, "%v", err)
		}
	}
	return &tl, nil
}

// ForeignKey finds a seal key of another hub in the last good trust lists
// (signing.ForeignKeys): (nil, nil) when none states it, when this hub is
// in no federation, or when two hubs state the same kid (neither is
// believed). A trust list counts while a chain from the root vouches for
// its hub, stale or not.
func (s *Service) ForeignKey(ctx context.Context, kid string) (*signing.ForeignKey, error) {
	keys, err := s.trustedKeys(ctx)
	if err != nil || keys[kid] == nil {
		return nil, err
	}
	k := *keys[kid]
	return &k, nil
}

func (s *Service) trustedKeys(ctx context.Context) (map[string]*signing.ForeignKey, error) {
	now := s.now()
	c := &s.trust
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != nil && now.Sub(c.at) < RefreshEvery && !now.Before(c.at) {
		return c.keys, nil
	}
	self, err := s.loadSelf(ctx)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
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
	keys := map[string]*signing.ForeignKey{}
	twice := map[string]bool{}
	for from, tok := range held {
		id, ok := strings.CutPrefix(from, trustSource)
		e := v.Hub(id)
		if !ok || id == self.ID || e == nil {
			continue
		}
		tl, err := VerifyTrustList(tok, &e.Hub, now, false)
		if err != nil {
			if s.Log != nil {
				s.Log.WarnContext(ctx, "federation: a held trust list no longer verifies", "hub", id, "error", err.Error())
			}
			continue
		}
		for _, k := range tl.Keys {
			if prev := keys[k.KID]; prev != nil && prev.Hub != id {
				twice[k.KID] = true
			}
			keys[k.KID] = &signing.ForeignKey{Hub: id, TrustedKey: k}
		}
	}
	for kid := range twice {
		delete(keys, kid)
		if s.Log != nil {
			s.Log.WarnContext(ctx, "federation: two hubs state the same seal key; neither is believed", "kid", kid)
		}
	}
	c.keys, c.at = keys, now
	return keys, nil
}
