package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

type authorityBody struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
}

func (s *Server) createAuthority(w http.ResponseWriter, r *http.Request) {
	var b authorityBody
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	a := &certificates.Authority{Code: b.Code, Name: b.Name}
	if err := s.Certs.CreateAuthority(r.Context(), a, b.Algorithm); err != nil {
		s.fail(w, r, err)
		return
	}
	keys, err := s.Keys.Keys(r.Context(), a.Code)
	if err == nil {
		err = s.record(r, "authority_create", exchange.AuditEntry{Outcome: "ok: " + a.Code})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, authorityView{Authority: a, DocumentAlgorithm: signing.DocumentAlgorithm(keys), Keys: keys})
}

// authorityView is an authority as the API shows it: DocumentAlgorithm is
// the algorithm of the active key that seals its JWS documents.
type authorityView struct {
	*certificates.Authority
	DocumentAlgorithm signing.Algorithm `json:"document_algorithm,omitempty"`
	Keys              []*signing.Key    `json:"keys,omitempty"`
}

func (s *Server) listAuthorities(w http.ResponseWriter, r *http.Request) {
	as, err := s.Certs.Store.ListAuthorities(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	keys, err := s.Keys.Keys(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byAuthority := map[string][]*signing.Key{}
	for _, k := range keys {
		byAuthority[k.Authority] = append(byAuthority[k.Authority], k)
	}
	out := make([]authorityView, 0, len(as))
	for _, a := range as {
		out = append(out, authorityView{Authority: a, DocumentAlgorithm: signing.DocumentAlgorithm(byAuthority[a.Code])})
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"authorities": out})
}

func (s *Server) getAuthority(w http.ResponseWriter, r *http.Request) {
	a, err := s.Certs.Store.GetAuthority(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeAuthority(w, r, http.StatusOK, a)
}

func (s *Server) writeAuthority(w http.ResponseWriter, r *http.Request, status int, a *certificates.Authority) {
	keys, err := s.Keys.Keys(r.Context(), a.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, status, authorityView{Authority: a, DocumentAlgorithm: signing.DocumentAlgorithm(keys)})
}

// updateAuthority changes what of an authority may change: which of its
// active seal keys (by algorithm) signs its JWS documents.
func (s *Server) updateAuthority(w http.ResponseWriter, r *http.Request) {
	var b struct {
		DocumentAlgorithm string `json:"document_algorithm"`
	}
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	code := chi.URLParam(r, "code")
	a, err := s.Certs.Authority(r.Context(), code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if b.DocumentAlgorithm != "" {
		alg, err := signing.ParseAlgorithm("document_algorithm", b.DocumentAlgorithm)
		if err == nil {
			err = s.Keys.SetDocumentAlgorithm(r.Context(), code, alg)
		}
		if err == nil {
			err = s.record(r, "authority_update", exchange.AuditEntry{Outcome: "ok: " + code + " seals documents with its " + string(alg) + " key"})
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.Log.InfoContext(r.Context(), "document algorithm set", "authority", code, "algorithm", string(alg))
	}
	s.writeAuthority(w, r, http.StatusOK, a)
}

// addKey gives an authority an active key of an algorithm it has no active
// key of; its documents keep their key (see updateAuthority).
func (s *Server) addKey(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Algorithm string `json:"algorithm"`
	}
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	code := chi.URLParam(r, "code")
	if _, err := s.Certs.Authority(r.Context(), code); err != nil {
		s.fail(w, r, err)
		return
	}
	if b.Algorithm == "" {
		s.fail(w, r, errs.Field("algorithm", "algorithm is required: ES256, EdDSA or SM2"))
		return
	}
	alg, err := signing.ParseAlgorithm("algorithm", b.Algorithm)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k, err := s.Keys.AddKey(r.Context(), code, alg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "key_add", exchange.AuditEntry{Outcome: "ok: " + code + " holds " + string(alg) + " key " + k.KID}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "seal key added", "authority", code, "kid", k.KID, "algorithm", string(alg))
	s.writeJSON(w, http.StatusCreated, k)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	if p := principalOf(r.Context()); p.Role == exchange.RoleIssuer && p.Authority != code {
		s.fail(w, r, errs.E(errs.Forbidden, "this token may read only the keys of authority %s", p.Authority))
		return
	}
	if _, err := s.Certs.Authority(r.Context(), code); err != nil {
		s.fail(w, r, err)
		return
	}
	keys, err := s.Keys.Keys(r.Context(), code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"keys": nonNil(keys)})
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Algorithm string `json:"algorithm"`
	}
	if r.ContentLength != 0 {
		if err := s.decode(w, r, &b); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	code := chi.URLParam(r, "code")
	if _, err := s.Certs.Authority(r.Context(), code); err != nil {
		s.fail(w, r, err)
		return
	}
	var alg signing.Algorithm
	if b.Algorithm != "" {
		var err error
		if alg, err = signing.ParseAlgorithm("algorithm", b.Algorithm); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	k, err := s.Keys.Rotate(r.Context(), code, alg)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "key_rotate", exchange.AuditEntry{Outcome: "ok: " + code + " now seals with " + k.KID}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "seal key rotated", "authority", code, "kid", k.KID)
	s.writeJSON(w, http.StatusCreated, k)
}

func (s *Server) createType(w http.ResponseWriter, r *http.Request) {
	var t certificates.Type
	if err := s.decode(w, r, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Certs.CreateType(r.Context(), &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "type_create", exchange.AuditEntry{Outcome: "ok: " + t.Code}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, &t)
}

func (s *Server) listTypes(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Certs.Store.ListTypes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"types": nonNil(ts)})
}

func (s *Server) getType(w http.ResponseWriter, r *http.Request) {
	t, err := s.Certs.Type(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, t)
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	var hub []json.RawMessage
	if s.AccessTokens != nil {
		// The hub's own keys (access tokens, webhook signatures, its
		// lists): every generation it publishes, inactive, active and
		// retired (docs/federation.md, Rotating the hub key), join the
		// authorities' seal keys.
		for _, k := range s.AccessTokens.Key.Published() {
			hub = append(hub, k.JWK)
		}
	}
	b, err := s.Keys.JWKS(r.Context(), hub...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if v := r.URL.Query().Get("alg"); v != "" {
		if b, err = filterJWKS(b, v); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// filterJWKS keeps the keys whose alg is one of the comma-separated algs:
// ?alg=ES256,EdDSA gives a JOSE library that knows no SM2 (or cannot read
// SM2 certificates in x5c, as Go's jwx) a set it can parse whole.
func filterJWKS(set []byte, algs string) ([]byte, error) {
	want := map[string]bool{}
	for _, a := range strings.Split(algs, ",") {
		switch a = strings.TrimSpace(a); a {
		case "ES256", "EdDSA", "SM2SM3":
			want[a] = true
		default:
			return nil, errs.Field("alg", "must be a comma-separated list of ES256, EdDSA and SM2SM3, got %q", a)
		}
	}
	var all struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(set, &all); err != nil {
		return nil, errs.Wrap(err, "JWKS")
	}
	out := all.Keys[:0]
	for _, k := range all.Keys {
		var m struct {
			Alg string `json:"alg"`
		}
		if json.Unmarshal(k, &m) == nil && want[m.Alg] {
			out = append(out, k)
		}
	}
	all.Keys = out
	if all.Keys == nil {
		all.Keys = []json.RawMessage{}
	}
	return json.Marshal(all)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the hub can serve, and if not which dependency is
// down: each is asked concurrently, with a short timeout, so a hung server
// reads as down instead of hanging the probe.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	probes := map[string]func(context.Context) error{"database": s.Certs.Store.Ping, "object_store": s.Certs.Documents.Ping}
	checks := make(map[string]string, len(probes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, ping := range probes {
		wg.Go(func() {
			res := "ok"
			if err := ping(ctx); err != nil {
				res = "unreachable"
				s.Log.ErrorContext(r.Context(), "readiness: "+name+" is unreachable", "err", err)
			}
			mu.Lock()
			checks[name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	st := http.StatusOK
	for _, res := range checks {
		if res != "ok" {
			st = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", errs.RetryAfterSeconds)
		}
	}
	// A read replica that is not fit costs nothing but load on the primary,
	// which answers in its place: it is reported, and the hub stays ready.
	if rs, ok := s.Certs.Store.(interface {
		ReplicaStatus() (status, detail string, ok bool)
	}); ok {
		if status, detail, ok := rs.ReplicaStatus(); ok {
			if status != "ok" {
				status += ": reads go to the primary (" + detail + ")"
			}
			checks["read_replica"] = status
		}
	}
	s.writeJSON(w, st, checks)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
