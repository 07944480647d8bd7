package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
)

// certificateFile answers GET /api/v1/certificates/{id}/file?format=ofd|pdf:
// the licence as a file, for the same callers and under the same agreement
// rule (+document) as the signed document, recorded in the ledger.
func (s *Server) certificateFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.fileFormat(w, r)
	if !ok {
		return
	}
	c, pm, ok := s.readable(w, r, true)
	if !ok {
		return
	}
	file, err := s.Files.Make(r.Context(), c, f, licencefile.Options{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(c)
	e.Fields = fieldsOf(c)
	e.Outcome = "ok: " + string(f) + " file"
	if pm != nil {
		e.Agreement = pm.agreement.ID
		agreementHeader(w, []string{pm.agreement.ID})
	}
	if err := s.record(r, "file", e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.follow(r, c)
	writeFile(w, file)
}

// myCertificateFile answers GET /api/v1/me/certificates/{id}/file: a
// holder's own licence as a file. Another holder's certificate is 404, like
// none at all.
func (s *Server) myCertificateFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.fileFormat(w, r)
	if !ok {
		return
	}
	c, err := s.Shares.MyCertificate(r.Context(), me(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	file, err := s.Files.Make(r.Context(), c, f, licencefile.Options{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeFile(w, file)
}

// fileFormat reads ?format= and checks the hub can make files.
func (s *Server) fileFormat(w http.ResponseWriter, r *http.Request) (licencefile.Format, bool) {
	if s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "licence files are not configured on this hub"))
		return "", false
	}
	f, err := licencefile.ParseFormat(r.URL.Query().Get("format"))
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	return f, true
}

func writeFile(w http.ResponseWriter, f *licencefile.File) {
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+f.Name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	_, _ = w.Write(f.Data)
}
