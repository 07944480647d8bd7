package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
)

// federationService answers 404 while the hub is in no federation.
func (s *Server) federationService(w http.ResponseWriter, r *http.Request) *federation.Service {
	if s.Federation == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this hub is in no federation (certhub federation init)"))
	}
	return s.Federation
}

// federationDirectory serves the signed directory (docs/federation.md).
func (s *Server) federationDirectory(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	b, err := f.Directory(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	serveSigned(w, r, b, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`, "application/jwt", "public, max-age=30")
}

// federationTrustList serves the other hubs' keys and trust lists, signed
// by this hub (docs/federation.md, Offline across hubs).
func (s *Server) federationTrustList(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	b, err := f.FederationTrustList(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	serveSigned(w, r, b, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`, "application/jwt", "public, max-age=60")
}

// relayedStatusList passes on another hub's status list.
func (s *Server) relayedStatusList(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	n, err := statuslist.ParseTSLName(chi.URLParam(r, "list"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hub := chi.URLParam(r, "hub")
	b, err := f.StatusList(r.Context(), hub, n)
	var re *federation.RemoteError
	switch {
	case errors.As(err, &re) && re.Unreachable:
		s.failSide(w, r, http.StatusServiceUnavailable, errs.Unavailable, "hub "+hub+" did not answer: "+re.Err.Error(), sideRemoteUnreachable, s.hubOf(r.Context(), hub), "")
		return
	case errors.As(err, &re):
		s.failSide(w, r, http.StatusBadGateway, errs.Unavailable, "hub "+hub+": "+re.Err.Error(), sideRemoteHub, s.hubOf(r.Context(), hub), "")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	serveSigned(w, r, b, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`, statuslist.TSLMediaType, "public, max-age=60")
}

// federationHub serves this hub's live description, signed by its key:
// what its parent reads to know what it holds now.
func (s *Server) federationHub(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	b, err := f.Describe(r.Context(), federation.EntryTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write(b)
}

// federationStatus shows the identity, the children, the hubs known and
// the last problems reaching them.
func (s *Server) federationStatus(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	st, err := f.Status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, st)
}

// admitChild admits a child hub from its signed description.
func (s *Server) admitChild(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	var body struct {
		Description string `json:"description"`
	}
	if err := s.decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Description == "" {
		s.fail(w, r, errs.Field("description", "the child's signed description is required (certhub federation describe on the child)"))
		return
	}
	p := principalOf(r.Context())
	c, err := f.Admit(r.Context(), []byte(body.Description), p.Actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusCreated, c)
}

// restartBackfill starts the backfill of the push to the parent over; it
// runs at the next push, under the push lease (the body is not read).
func (s *Server) restartBackfill(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	b, err := f.RestartBackfill(r.Context(), principalOf(r.Context()).Actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, b)
}

// federationPush takes a child hub's push of its outbox (aggregation). It
// is authenticated by the child's hub signature over the body, not by a
// bearer token.
func (s *Server) federationPush(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	hub, sig := r.Header.Get(federation.HubHeader), r.Header.Get(federation.SignatureHeader)
	if hub == "" || sig == "" {
		s.fail(w, r, errs.Field(federation.SignatureHeader, "a push names its hub (%s) and is signed by it (%s: a detached JWS over the body)",
			federation.HubHeader, federation.SignatureHeader))
		return
	}
	// Only an admitted child's push is read at all.
	if _, err := f.Pusher(r.Context(), hub); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, federation.MaxAggregateBytes))
	if err != nil {
		s.fail(w, r, errs.E(errs.TooLarge, "a push is at most %d bytes", federation.MaxAggregateBytes))
		return
	}
	ans, err := f.Receive(r.Context(), hub, sig, body)
	var pc *federation.PushConflict
	if errors.As(err, &pc) {
		var b struct {
			Error struct {
				Code           errs.Code `json:"code"`
				Message        string    `json:"message"`
				AppliedThrough int64     `json:"applied_through"`
			} `json:"error"`
		}
		b.Error.Code, b.Error.Message, b.Error.AppliedThrough = errs.Conflict, pc.Error(), pc.AppliedThrough
		s.writeJSON(w, http.StatusConflict, b)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, ans)
}

// federatedCertificate reads a certificate version a child pushed here.
func (s *Server) federatedCertificate(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	if f.Inbox == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this hub keeps no aggregated certificates"))
		return
	}
	v, err := f.Inbox.FederatedVersion(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

// federatedCertificates lists the certificate versions of one home hub
// kept here.
func (s *Server) federatedCertificates(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	hub := r.URL.Query().Get("home_hub")
	if err := federation.ValidHubID(hub); err != nil {
		s.fail(w, r, errs.Field("home_hub", "%v", err))
		return
	}
	if f.Inbox == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this hub keeps no aggregated certificates"))
		return
	}
	vs, err := f.Inbox.FederatedVersions(r.Context(), hub)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if vs == nil {
		vs = []*federation.Version{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"certificates": vs})
}
