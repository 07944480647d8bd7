package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

type compromiseBody struct {
	From   string `json:"from"`
	Reason string `json:"reason"`
}

// Validate checks the request's shape; the time's bounds are the signing
// package's (signing.Manager.Compromise).
func (b *compromiseBody) Validate() (time.Time, error) {
	if b.From == "" {
		return time.Time{}, errs.Field("from", "is required (an RFC 3339 time)")
	}
	t, err := time.Parse(time.RFC3339, b.From)
	if err != nil {
		return time.Time{}, errs.Field("from", "%q is not an RFC 3339 time", b.From)
	}
	return t, nil
}

// compromiseKey marks an authority's seal key compromised from an instant:
// documents it sealed from then on fail verification with key_compromised.
func (s *Server) compromiseKey(w http.ResponseWriter, r *http.Request) {
	var b compromiseBody
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	from, err := b.Validate()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code, kid := chi.URLParam(r, "code"), chi.URLParam(r, "kid")
	k, err := s.Keys.Key(r.Context(), kid)
	if err == nil && k.Authority != code {
		err = errs.E(errs.NotFound, "authority %s has no seal key %s", code, kid)
	}
	if err == nil {
		k, err = s.Keys.Compromise(r.Context(), kid, from, b.Reason)
	}
	if err == nil {
		err = s.record(r, "key_compromise", exchange.AuditEntry{Outcome: "ok: " + code + " key " + kid + " compromised from " + k.CompromisedFrom.UTC().Format(time.RFC3339)})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.WarnContext(r.Context(), "seal key marked compromised", "authority", code, "kid", kid, "from", k.CompromisedFrom.UTC().Format(time.RFC3339))
	s.writeJSON(w, http.StatusOK, k)
}
