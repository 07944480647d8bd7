package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
)

// annotationDefaultDays is the expiry the wallet's 加注件 form proposes.
const annotationDefaultDays = 30

// walletAnnotation is an annotated copy as the wallet lists it.
type walletAnnotation struct {
	A        *exchange.Annotation
	TypeName string
	// Status is "valid", "expired" or "revoked".
	Status string
}

// annotateForm is the 加注件 form of one certificate: what the holder
// typed and, after a refused request, the problems by field.
type annotateForm struct {
	CertificateID string
	Purpose       string
	ExpiresAt     string
	Problems      []annotateProblem
}

// annotateProblem is one refused field, named and explained in the page's
// language.
type annotateProblem struct{ Field, Label, Message string }

// annotationStatus is the wallet's word for a copy's status.
func annotationStatus(a *exchange.Annotation, today certificates.Date) string {
	switch a.Status(today) {
	case exchange.AnnotationRevoked:
		return "revoked"
	case exchange.AnnotationExpired:
		return "expired"
	}
	return "valid"
}

// annotationsOn reports whether the hub makes annotated copies; a hub
// without them answers the copy pages with 503.
func (s *Server) annotationsOn(w http.ResponseWriter, r *http.Request) bool {
	if s.Annotations == nil || s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "annotated copies are not configured on this hub"))
		return false
	}
	return true
}

// createAnnotated answers POST /wallet/certificates/{id}/annotated: the
// holder makes an annotated copy of their own valid certificate. A
// refused purpose or expiry shows the wallet again (400) with the problem
// beside the form, nothing stored; another holder's certificate is 404.
func (s *Server) createAnnotated(w http.ResponseWriter, r *http.Request) {
	if !s.annotationsOn(w, r) {
		return
	}
	ctx := r.Context()
	c, err := s.Shares.MyCertificate(ctx, holderOf(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := &exchange.AnnotationRequest{Purpose: r.PostFormValue("purpose"), ExpiresAt: r.PostFormValue("expires_at")}
	a, err := s.Annotations.Create(ctx, c, exchange.RequesterHolder, "", "", req)
	var e *errs.Error
	if errs.Is(err, errs.Invalid) && errors.As(err, &e) {
		lang := langOf(r)
		form := &annotateForm{CertificateID: c.ID, Purpose: req.Purpose, ExpiresAt: req.ExpiresAt}
		for _, fe := range e.Fields {
			form.Problems = append(form.Problems, annotateProblem{Field: fe.Field, Label: T(lang, "ann_"+fe.Field),
				Message: T(lang, "ann_"+fe.Field+"_problem")})
		}
		s.Log.WarnContext(ctx, "annotated copy refused", "err", err.Error())
		s.showWallet(w, r, http.StatusBadRequest, walletData{Annotate: form})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAnnotation(r, "annotate", a, "ok: annotated copy "+a.ID+" until "+a.ExpiresOn.String()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(ctx, "annotated copy created", "annotation_id", a.ID, "certificate", c.ID)
	http.Redirect(w, r, "/wallet?annotated="+a.ID+"#annotated-"+a.ID, http.StatusSeeOther)
}

// myAnnotation reads {aid} if it is a copy of one of the signed-in
// holder's certificates, whoever asked for it; 404 otherwise.
func (s *Server) myAnnotation(w http.ResponseWriter, r *http.Request) (*exchange.Annotation, bool) {
	if !s.annotationsOn(w, r) {
		return nil, false
	}
	a, err := s.Annotations.Mine(r.Context(), holderOf(r), chi.URLParam(r, "aid"))
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return a, true
}

// annotatedFile answers GET /wallet/annotated/{aid}/file?format=pdf|ofd:
// the copy's file, watermarked with its purpose and expiry, made exactly
// as the API makes it. A revoked or expired copy is a 410 page saying
// which.
func (s *Server) annotatedFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.fileFormat(w, r, r.URL.Query().Get("format"))
	if !ok {
		return
	}
	a, ok := s.myAnnotation(w, r)
	if !ok {
		return
	}
	if why := a.Status(s.Certs.Today()); why != "" {
		s.errorPage(w, r, http.StatusGone, "annotated_gone", T(langOf(r), "r_"+why))
		return
	}
	c, err := s.Certs.Get(r.Context(), a.CertificateID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	file, err := s.Files.Make(r.Context(), c, f, licencefile.Annotated(a))
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	if err := s.recordAnnotation(r, "annotated_file", a, "ok: "+string(f)+" file of annotated copy "+a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeFile(w, file, c.ID+"-"+a.ID+"."+string(f))
}

// revokeAnnotated answers POST /wallet/annotated/{aid}/revoke: the holder
// ends one of their copies at once, whoever asked for it.
func (s *Server) revokeAnnotated(w http.ResponseWriter, r *http.Request) {
	a, ok := s.myAnnotation(w, r)
	if !ok {
		return
	}
	if err := s.Annotations.Revoke(r.Context(), holderOf(r), a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAnnotation(r, "annotated_revoke", a, "ok: revoked annotated copy "+a.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/wallet#annotated", http.StatusSeeOther)
}

// recordAnnotation writes what the holder did with a copy to the ledger,
// under their index so it is in their access history, as the API does.
func (s *Server) recordAnnotation(r *http.Request, action string, a *exchange.Annotation, outcome string) error {
	if s.Shares.Ledger == nil {
		return nil
	}
	e := exchange.AuditEntry{Action: action, Actor: "holder:" + a.HolderIndex[:16],
		Certificates: []string{a.CertificateID}, Holder: a.HolderIndex, Purpose: a.Purpose, Outcome: outcome}
	if sess := sessionOf(r); sess != nil {
		e.ActorName = sess.Name
	}
	return s.Shares.Ledger.Record(r.Context(), e)
}
