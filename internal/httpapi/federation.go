package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
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
