package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/signing"
)

// annotationView is an annotated copy as the API shows it. pdf and ofd
// are the paths that return its files; ofd is null when the issuing
// authority has no SM2 key to seal an OFD.
type annotationView struct {
	ID            string            `json:"id"`
	CertificateID string            `json:"certificate_id"`
	Purpose       string            `json:"purpose"`
	ExpiresAt     certificates.Date `json:"expires_at"`
	PDF           string            `json:"pdf"`
	OFD           *string           `json:"ofd"`
	Requester     string            `json:"requester"`
	CaseID        string            `json:"case_id,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	RevokedAt     *time.Time        `json:"revoked_at,omitempty"`
	// Status is "valid", or why the copy may no longer be used
	// (annotated_copy_expired, annotated_copy_revoked).
	Status string `json:"status"`
}

// annotationView builds the view; base is where its files are
// (/api/v1/me/annotated or /api/v1/annotated).
func (s *Server) annotationView(ctx context.Context, a *exchange.Annotation, authority, base string) (annotationView, error) {
	file := base + "/" + a.ID + "/file?format="
	v := annotationView{ID: a.ID, CertificateID: a.CertificateID, Purpose: a.Purpose, ExpiresAt: a.ExpiresOn, PDF: file + "pdf",
		Requester: a.Requester, CaseID: a.CaseID, CreatedAt: a.CreatedAt, RevokedAt: a.RevokedAt, Status: a.Status(s.Certs.Today())}
	if v.Status == "" {
		v.Status = "valid"
	}
	sm2, err := s.sealsOFD(ctx, authority)
	if err != nil {
		return v, err
	}
	if sm2 {
		ofd := file + "ofd"
		v.OFD = &ofd
	}
	return v, nil
}

// sealsOFD reports whether the authority has an active SM2 key, without
// which no OFD can be sealed: a look at its key list, no signing.
func (s *Server) sealsOFD(ctx context.Context, authority string) (bool, error) {
	keys, err := s.Keys.Keys(ctx, authority)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k.Algorithm == signing.SM2 && k.Status == signing.KeyActive {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) annotations(w http.ResponseWriter, r *http.Request) bool {
	if s.Annotations == nil || s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "annotated copies are not configured on this hub"))
		return false
	}
	return true
}

// myAnnotate answers POST /api/v1/me/certificates/{id}/annotated: the
// holder asks for an annotated copy of their own certificate (another
// holder's is 404, like none at all).
func (s *Server) myAnnotate(w http.ResponseWriter, r *http.Request) {
	if !s.annotations(w, r) {
		return
	}
	var req exchange.AnnotationRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Shares.MyCertificate(r.Context(), me(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.annotate(w, r, c, exchange.RequesterHolder, "", "", &req, "/api/v1/me/annotated")
}

// certificateAnnotate answers POST /api/v1/certificates/{id}/annotated: a
// department under an agreement that grants the document (X-Purpose,
// X-Case-Id), or an admin, asks for an annotated copy.
func (s *Server) certificateAnnotate(w http.ResponseWriter, r *http.Request) {
	if !s.annotations(w, r) {
		return
	}
	var req exchange.AnnotationRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	c, pm, ok := s.readable(w, r, true)
	if !ok {
		return
	}
	agreement := ""
	if pm != nil {
		agreement = pm.agreement.ID
		agreementHeader(w, []string{agreement})
	}
	s.annotate(w, r, c, principalOf(r.Context()).Actor(), agreement, r.Header.Get("X-Case-Id"), &req, "/api/v1/annotated")
	s.follow(r, c)
}

// annotate makes the copy, records it in the ledger under the holder's
// index (so it is in their access history) and answers 201.
func (s *Server) annotate(w http.ResponseWriter, r *http.Request, c *certificates.Certificate, requester, agreement, caseID string,
	req *exchange.AnnotationRequest, base string) {
	a, err := s.Annotations.Create(r.Context(), c, requester, agreement, caseID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(c)
	e.Purpose, e.CaseID, e.Agreement = a.Purpose, a.CaseID, a.Agreement
	e.Outcome = "ok: annotated copy " + a.ID + " until " + a.ExpiresOn.String()
	if code := r.Header.Get("X-Purpose"); code != "" && requester != exchange.RequesterHolder {
		e.Outcome += " (X-Purpose " + code + ")"
	}
	if err := s.record(r, "annotate", e); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.annotationView(r.Context(), a, c.Authority, base)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "annotated copy created", "annotation_id", a.ID, "certificate", c.ID)
	s.writeJSON(w, http.StatusCreated, v)
}

// myAnnotatedFile answers GET /api/v1/me/annotated/{aid}/file: a copy of
// one of the holder's certificates, whoever asked for it.
func (s *Server) myAnnotatedFile(w http.ResponseWriter, r *http.Request) {
	a, ok := s.myAnnotation(w, r)
	if ok {
		s.annotatedFile(w, r, a)
	}
}

// consumerAnnotatedFile answers GET /api/v1/annotated/{aid}/file: the department
// that asked for the copy gets it, and admins; anyone else 404.
func (s *Server) consumerAnnotatedFile(w http.ResponseWriter, r *http.Request) {
	if !s.annotations(w, r) {
		return
	}
	id := chi.URLParam(r, "aid")
	a, err := s.Annotations.Get(r.Context(), id)
	if p := principalOf(r.Context()); err == nil && p.Role != exchange.RoleAdmin && a.Requester != p.Actor() {
		err = errs.E(errs.NotFound, "no annotated copy %s of yours", id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.annotatedFile(w, r, a)
}

// agreementStillActive refuses a department its copy once the agreement
// it was made under is no longer active (withdrawn, suspended, expired).
func (s *Server) agreementStillActive(r *http.Request, a *exchange.Annotation) error {
	p := principalOf(r.Context())
	if p.Role != exchange.RoleConsumer || a.Agreement == "" || s.Consumers == nil {
		return nil
	}
	ag, err := s.Consumers.Agreement(r.Context(), p, a.Agreement)
	if err != nil {
		return err
	}
	if ag.State != exchange.AgreementActive {
		return errs.E(errs.Forbidden, "agreement %s, under which annotated copy %s was made, is %s", ag.ID, a.ID, ag.State)
	}
	return nil
}

// myAnnotation reads {aid} if it is a copy of the signed-in holder's
// certificate; 404 otherwise.
func (s *Server) myAnnotation(w http.ResponseWriter, r *http.Request) (*exchange.Annotation, bool) {
	if !s.annotations(w, r) {
		return nil, false
	}
	a, err := s.Annotations.Mine(r.Context(), me(r), chi.URLParam(r, "aid"))
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return a, true
}

// annotatedFile writes a usable copy's file (410 once expired or revoked;
// 403 to a department whose agreement is no longer active), recorded in
// the ledger.
func (s *Server) annotatedFile(w http.ResponseWriter, r *http.Request, a *exchange.Annotation) {
	f, ok := s.fileFormat(w, r)
	if !ok {
		return
	}
	if err := s.Annotations.Usable(a); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.agreementStillActive(r, a); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Certs.Get(r.Context(), a.CertificateID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	file, err := s.Files.Make(r.Context(), c, f, licencefile.Annotated(a))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(c)
	e.Purpose, e.CaseID, e.Agreement = a.Purpose, a.CaseID, a.Agreement
	e.Outcome = "ok: " + string(f) + " file of annotated copy " + a.ID
	if err := s.record(r, "annotated_file", e); err != nil {
		s.fail(w, r, err)
		return
	}
	writeFile(w, file)
}

// myAnnotated answers GET /api/v1/me/annotated: the copies of the
// holder's certificates, newest first, whoever asked for them.
func (s *Server) myAnnotated(w http.ResponseWriter, r *http.Request) {
	if !s.annotations(w, r) {
		return
	}
	list, err := s.Annotations.List(r.Context(), me(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]annotationView, 0, len(list))
	authorities := map[string]string{}
	for _, a := range list {
		auth, ok := authorities[a.CertificateID]
		if !ok {
			c, err := s.Certs.Get(r.Context(), a.CertificateID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			auth, authorities[a.CertificateID] = c.Authority, c.Authority
		}
		v, err := s.annotationView(r.Context(), a, auth, "/api/v1/me/annotated")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"annotated": out})
}

// revokeAnnotated answers DELETE /api/v1/me/annotated/{aid}: the holder
// ends a copy at once, whoever asked for it; recorded in the ledger.
func (s *Server) revokeAnnotated(w http.ResponseWriter, r *http.Request) {
	a, ok := s.myAnnotation(w, r)
	if !ok {
		return
	}
	if err := s.Annotations.Revoke(r.Context(), me(r), a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "annotated_revoke", exchange.AuditEntry{Certificates: []string{a.CertificateID}, Holder: a.HolderIndex,
		Purpose: a.Purpose, CaseID: a.CaseID, Outcome: "ok: revoked annotated copy " + a.ID}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
