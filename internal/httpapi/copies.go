package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// The copies of other hubs' certificates kept here (aggregation), as this
// hub's own department systems and administrators read them
// (docs/federation.md, Serving the copies): in lookups, reads, document
// downloads, matches and resolves, under this hub's agreements, marked
// with their home hub, and never changed here.

// sourceAggregated marks a view of a copy.
const sourceAggregated = "aggregated"

// viewOf is the view of a certificate or of a copy, which names its home
// hub.
func (s *Server) viewOf(r *http.Request, c *certificates.Certificate) certificateView {
	v := s.view(c, nil)
	if c.HomeHub != "" {
		v.Hub = &verifyHub{ID: c.HomeHub, Name: s.Copies.HubName(r.Context(), c.HomeHub)}
		v.Source = sourceAggregated
	}
	return v
}

// copyOf returns the copy kept here by id, or nil.
func (s *Server) copyOf(r *http.Request, id string) *certificates.Certificate {
	if s.Copies == nil {
		return nil
	}
	c, err := s.Copies.Copy(r.Context(), id)
	if err != nil {
		if !errs.Is(err, errs.NotFound) {
			s.Log.WarnContext(r.Context(), "read a copy", "id", id, "err", err.Error())
		}
		return nil
	}
	return c
}

// readOnlyCopy is the refusal of a change (or of a thing only the home hub
// makes) to a copy: the home hub holds the certificate.
func (s *Server) readOnlyCopy(r *http.Request, c *certificates.Certificate, what string) error {
	hub := c.HomeHub
	if name := s.Copies.HubName(r.Context(), hub); name != "" {
		hub += " (" + name + ")"
	}
	return errs.E(errs.Conflict, "certificate %s is a read-only copy of hub %s, which holds it: %s", c.ID, hub, what)
}

// notACopy turns the not-found of a change to a certificate that is a
// copy kept here into the refusal that names its home hub.
func (s *Server) notACopy(r *http.Request, err error, what string) error {
	if !errs.Is(err, errs.NotFound) {
		return err
	}
	if c := s.copyOf(r, chi.URLParam(r, "id")); c != nil {
		return s.readOnlyCopy(r, c, what)
	}
	return err
}

// holderCopies are the copies of a holder (by this hub's index) that a
// lookup finds: of its type if it names one, of its status if it names
// one, and for an issuer's token only its authority's.
func (s *Server) holderCopies(r *http.Request, holder string, req certificates.FindRequest) ([]*certificates.Certificate, error) {
	if s.Copies == nil {
		return nil, nil
	}
	var types []string
	if req.Type != "" {
		types = []string{req.Type}
	}
	copies, err := s.Copies.FindCopies(r.Context(), holder, types)
	if err != nil {
		return nil, err
	}
	var status certificates.Status
	if req.Status != "" {
		status, _ = certificates.ParseStatus(req.Status) // checked by the lookup of own certificates
	}
	sc := scope(principalOf(r.Context()))
	today := s.Certs.Today()
	out := copies[:0]
	for _, c := range copies {
		if (sc.Authority != "" && c.Authority != sc.Authority) || (status != "" && c.StatusOn(today) != status) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// copyType is the definition of a type this hub does not define but keeps
// copies of; errs.NotFound otherwise.
func (s *Server) copyType(r *http.Request, code string) (*certificates.Type, error) {
	if s.Copies == nil {
		return nil, errs.E(errs.NotFound, "certificate type %s does not exist", code)
	}
	ft, err := s.Copies.FederatedType(r.Context(), code)
	if err != nil {
		return nil, err
	}
	return &ft.Type, nil
}

// servesCopies reports whether a consumer's call with scope=federation is
// this hub's to answer from the copies it keeps: it keeps copies of the
// type, and its own agreements cover the type for the call's purpose.
// Otherwise the call goes to the hub that holds the type, whose
// agreements decide.
func (s *Server) servesCopies(r *http.Request, typ string) bool {
	if s.Copies == nil {
		return false
	}
	if _, err := s.Copies.FederatedType(r.Context(), typ); err != nil {
		return false
	}
	cov, err := s.coverage(r)
	return err == nil && cov != nil && cov.ByType[typ] != nil
}
