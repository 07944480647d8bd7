package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
)

// The status lists' timing (docs/status-lists.md).
const (
	// statusFresh is how long a replica serves a list it built without
	// reading the store again: a lifecycle change on any replica shows in
	// every replica's lists within it.
	statusFresh = 5 * time.Second
	// statusWindow: a list's iat (and a BSL's validFrom) is the start of
	// the window it was signed in. Ed25519 is deterministic, so replicas
	// serving the same bits in the same window serve the same bytes (and
	// ETag). A list is signed again when its bits change or a new window
	// starts; iat is then at most this much earlier than the signature,
	// which only makes a list look older than it is.
	statusWindow = 5 * time.Minute
	// statusExp is the lifetime of a signed list (TSL exp, BSL
	// validUntil): a verifier that cannot refresh stops trusting it then.
	statusExp = 24 * time.Hour
	// statusTTL is the TSL ttl: how long a verifier may use a list it
	// fetched before fetching it again.
	statusTTL = time.Hour
	// statusMaxAge is the HTTP freshness a CDN may add on top.
	statusMaxAge = "public, max-age=60"
)

// statusForm is one published form of a list.
type statusForm struct {
	list    int
	purpose statuslist.Purpose // empty for the TSL
}

// signedList is a form as last built: the encoded bits it was signed with.
type signedList struct {
	mu      sync.Mutex
	read    time.Time // when the store was last read for it
	encoded string    // lst or encodedList
	window  time.Time
	body    []byte
	etag    string
}

// statusCache holds each form a replica serves. It is per process: a
// change made on another replica shows once statusFresh has passed.
type statusCache struct {
	mu    sync.Mutex
	forms map[statusForm]*signedList
}

func (c *statusCache) entry(f statusForm) *signedList {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forms == nil {
		c.forms = map[statusForm]*signedList{}
	}
	e := c.forms[f]
	if e == nil {
		e = &signedList{}
		c.forms[f] = e
	}
	return e
}

func (c *statusCache) drop(f statusForm) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.forms, f)
}

// tokenStatusList serves GET /status/tsl/{list}.
func (s *Server) tokenStatusList(w http.ResponseWriter, r *http.Request) {
	n, err := statuslist.ParseTSLName(chi.URLParam(r, "list"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveStatus(w, r, statusForm{list: n}, statuslist.TSLMediaType)
}

// bitstringStatusList serves GET /status/bsl/{list}.
func (s *Server) bitstringStatusList(w http.ResponseWriter, r *http.Request) {
	n, p, err := statuslist.ParseBSLName(chi.URLParam(r, "list"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serveStatus(w, r, statusForm{list: n, purpose: p}, statuslist.BSLMediaType)
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, f statusForm, mediaType string) {
	if s.AccessTokens == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this hub has no hub key, so it publishes no status lists"))
		return
	}
	body, etag, err := s.statusList(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Public, signed and the same for everyone: a verifier's web app on
	// another origin may read it (no credentials are involved).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	serveSigned(w, r, body, etag, mediaType, statusMaxAge)
}

// statusList returns a form's signed bytes and ETag, reading the store at
// most once per statusFresh and signing only when the bits changed or a
// new window started.
func (s *Server) statusList(ctx context.Context, f statusForm) ([]byte, string, error) {
	e := s.statuses.entry(f)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.Now()
	if e.body != nil && now.Sub(e.read) >= 0 && now.Sub(e.read) < statusFresh {
		return e.body, e.etag, nil
	}
	l, err := s.Certs.StatusList(ctx, f.list)
	if errs.Is(err, errs.NotFound) {
		// Forget it, so asking for lists that do not exist costs no memory.
		s.statuses.drop(f)
		return nil, "", &errs.Error{Code: errs.NotFound, Field: "list", Message: "status list " + chiName(f) + " does not exist"}
	}
	if err != nil {
		return nil, "", err
	}
	var encoded string
	if f.purpose == "" {
		encoded, err = l.EncodeTSL()
	} else {
		encoded, err = l.EncodeBSL(f.purpose)
	}
	if err != nil {
		return nil, "", err
	}
	window := now.UTC().Truncate(statusWindow)
	if e.body != nil && encoded == e.encoded && window.Equal(e.window) {
		e.read = now
		return e.body, e.etag, nil
	}
	body, err := s.signStatus(f, l, window)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	e.read, e.encoded, e.window, e.body = now, encoded, window, body
	e.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return e.body, e.etag, nil
}

func (s *Server) signStatus(f statusForm, l *statuslist.List, iat time.Time) ([]byte, error) {
	public := strings.TrimRight(s.PublicURL, "/")
	var payload any
	typ := statuslist.TSLType
	if f.purpose == "" {
		c, err := statuslist.NewTSLClaims(statuslist.TSLURL(public, f.list), l, iat, statusExp, statusTTL)
		if err != nil {
			return nil, err
		}
		payload = c
	} else {
		c, err := statuslist.NewBSLCredential(statuslist.BSLURL(public, f.list, f.purpose), public, l, f.purpose, iat, statusExp, statusTTL)
		if err != nil {
			return nil, err
		}
		payload, typ = c, statuslist.BSLType
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, errs.Wrap(err, "encode status list")
	}
	return s.AccessTokens.Key.Sign(b, typ)
}

func chiName(f statusForm) string {
	if f.purpose == "" {
		return strings.TrimPrefix(statuslist.TSLPath(f.list), "/status/")
	}
	return strings.TrimPrefix(statuslist.BSLPath(f.list, f.purpose), "/status/")
}

// serveSigned writes a signed document the hub publishes (trust list,
// status lists) with a strong ETag over its bytes, answering a matching
// If-None-Match with 304 so a client or CDN revalidates cheaply.
func serveSigned(w http.ResponseWriter, r *http.Request, body []byte, etag, contentType, cacheControl string) {
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", cacheControl)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(body)
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110 13.1.2):
// any listed tag, W/ or not, or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
