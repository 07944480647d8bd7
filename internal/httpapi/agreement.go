package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// registry answers 503 when the hub runs without one.
func (s *Server) registry(w http.ResponseWriter, r *http.Request) bool {
	if s.Consumers == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "the consumer registry is not configured"))
		return false
	}
	return true
}

// oauthToken is the token endpoint: client credentials, authenticated by a
// private_key_jwt client assertion. Answers follow RFC 6749 §5.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	if s.AccessTokens == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "the token endpoint is not configured"))
		return
	}
	oauthFail := func(e *exchange.OAuthError) {
		s.Log.WarnContext(r.Context(), "token request refused", "error", e.Code, "reason", e.Description, "request_id", middleware.GetReqID(r.Context()))
		w.Header().Set("Pragma", "no-cache")
		s.writeJSON(w, e.Status, e)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		oauthFail(&exchange.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: "the body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthFail(&exchange.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "the form could not be read: " + err.Error()})
		return
	}
	g, err := s.AccessTokens.Exchange(r.Context(), r.PostForm)
	var oe *exchange.OAuthError
	if errors.As(err, &oe) {
		oauthFail(oe)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Ledger.Record(r.Context(), exchange.AuditEntry{Actor: "consumer:" + g.Consumer, Action: "access_token",
		Outcome: "ok: scope " + g.Scope}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	s.writeJSON(w, http.StatusOK, g)
}

func (s *Server) createConsumer(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	var c exchange.Consumer
	if err := s.decode(w, r, &c); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Consumers.CreateConsumer(r.Context(), principalOf(r.Context()), &c); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/consumers/"+c.ID)
	s.writeJSON(w, http.StatusCreated, c)
}

func (s *Server) listConsumers(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	cs, err := s.Consumers.Store.ListConsumers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"consumers": nonNil(cs)})
}

func (s *Server) getConsumer(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	c, err := s.Consumers.Store.Consumer(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, c)
}

func (s *Server) setConsumerJWKS(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	var raw json.RawMessage
	if err := s.decode(w, r, &raw); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Consumers.SetJWKS(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"), raw); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createConsumerKey(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	var b struct {
		Name string `json:"name"`
	}
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	t, secret, err := s.Consumers.CreateKey(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"), b.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, struct {
		*exchange.Token
		Secret string `json:"token"`
	}{t, secret})
}

func (s *Server) revokeConsumer(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	if err := s.Consumers.RevokeConsumer(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listPurposes(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	ps, err := s.Consumers.Store.ListPurposes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"purposes": nonNil(ps)})
}

func (s *Server) createPurpose(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	var p exchange.Purpose
	if err := s.decode(w, r, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Consumers.CreatePurpose(r.Context(), principalOf(r.Context()), &p); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, p)
}

func (s *Server) requestAgreement(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	var req exchange.AgreementRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.Consumers.RequestAgreement(r.Context(), principalOf(r.Context()), &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/agreements/"+a.ID)
	s.writeJSON(w, http.StatusCreated, a)
}

func (s *Server) listAgreements(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	as, err := s.Consumers.Agreements(r.Context(), principalOf(r.Context()), r.URL.Query().Get("consumer"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"agreements": nonNil(as)})
}

func (s *Server) getAgreement(w http.ResponseWriter, r *http.Request) {
	if !s.registry(w, r) {
		return
	}
	a, err := s.Consumers.Agreement(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, a)
}

func decide(decision string) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		if !s.registry(w, r) {
			return
		}
		var b struct {
			Reason string `json:"reason"`
		}
		if err := s.decode(w, r, &b); err != nil {
			s.fail(w, r, err)
			return
		}
		a, err := s.Consumers.Decide(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"), decision, b.Reason)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusOK, a)
	}
}

// permit is what a consumer's call may disclose of one certificate.
type permit struct {
	agreement *exchange.Agreement
	grant     *exchange.Grant
}

// coverage checks a department's call: purpose and case present, the
// purpose in the catalog and covered by an active agreement. Other roles
// get nil (they read without agreements).
func (s *Server) coverage(r *http.Request) (*exchange.Coverage, error) {
	a, err := s.access(r)
	if err != nil {
		return nil, err
	}
	p := principalOf(r.Context())
	if p == nil || p.Role != exchange.RoleConsumer {
		return nil, nil
	}
	if s.Consumers == nil {
		return nil, errs.E(errs.Unavailable, "the consumer registry is not configured")
	}
	return s.Consumers.Authorize(r.Context(), p.Consumer, a.Purpose)
}

// permitFor finds the agreement covering a certificate type (and its
// signed document, if asked for) and spends one call of its rate limit;
// a refused call spends nothing.
func (s *Server) permitFor(w http.ResponseWriter, r *http.Request, cov *exchange.Coverage, typ string, document bool) (*permit, error) {
	if cov == nil {
		return nil, nil
	}
	a, g, err := cov.For(typ)
	if err != nil {
		return nil, err
	}
	if document && !g.Document {
		return nil, errs.E(errs.Forbidden, "agreement %s grants fields of type %s, not its signed document; read the certificate instead", a.ID, typ)
	}
	ctx := httprate.WithRequestLimit(r.Context(), a.RatePerMinute)
	if s.agreementLimit.OnLimit(w, r.WithContext(ctx), a.ID) {
		return nil, errs.E(errs.RateLimited, "agreement %s allows %d calls a minute; retry after the minute", a.ID, a.RatePerMinute)
	}
	return &permit{agreement: a, grant: g}, nil
}

// minimise keeps only what the grant discloses: the granted data fields and
// the holder's name if granted.
func (p *permit) minimise(v *certificateView) {
	if p == nil {
		return
	}
	data := make(map[string]any, len(p.grant.Fields))
	for _, f := range p.grant.Fields {
		if val, ok := v.Data[f]; ok {
			data[f] = val
		}
	}
	v.Data = data
	if !p.grant.Permits(exchange.FieldHolderName) {
		v.Holder.Name = ""
	}
	v.Agreement = p.agreement.ID
}

// disclosed names the fields a view shows, for the ledger.
func disclosed(v *certificateView) []string {
	out := make([]string, 0, len(v.Data)+1)
	for k := range v.Data {
		out = append(out, k)
	}
	if v.Holder.Name != "" {
		out = append(out, exchange.FieldHolderName)
	}
	slices.Sort(out)
	return out
}

// newAgreementLimiter counts calls per agreement in one-minute windows. The
// count is per replica: with N replicas behind a balancer an agreement gets
// up to N times its rate, which docs/operations.md says.
func newAgreementLimiter() *httprate.RateLimiter {
	return httprate.NewRateLimiter(exchange.DefaultRatePerMinute, time.Minute)
}

// agreementHeader names the agreements that authorised an answer.
func agreementHeader(w http.ResponseWriter, ids []string) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 {
		w.Header().Set("X-Agreement-Id", strings.Join(ids, ","))
	}
}
