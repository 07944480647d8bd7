package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
)

// walletFile answers GET /wallet/certificates/{id}/file?format=ofd|pdf: the
// signed-in holder's licence as a sealed OFD or signed PDF. Another
// holder's certificate is 404, like none at all. Licences of every status
// are offered: the file's QR and verification say the live status, and an
// expired licence is still the holder's record.
func (s *Server) walletFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.fileFormat(w, r, r.URL.Query().Get("format"))
	if !ok {
		return
	}
	c, err := s.Shares.MyCertificate(r.Context(), holderOf(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	file, err := s.Files.Make(r.Context(), c, f, licencefile.Options{})
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	writeFile(w, file, file.Name)
}

// shareFile answers GET /s/{token}/file: a PDF of what the share grants
// (its fields; the holder's name only if the holder chose to show it),
// watermarked with the share's purpose. It opens the share exactly as the
// page does: the download is a view, counted against max_views and shown
// to the holder, and an unknown, expired, revoked or used-up share gets
// the page's one "not valid" answer and no file. A certificate that is not
// valid right now (revoked, suspended, expired, seal broken) gets no
// fresh signed file either.
func (s *Server) shareFile(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	if _, ok := s.fileFormat(w, r, string(licencefile.PDF)); !ok {
		return
	}
	shown, err := s.Shares.Open(r.Context(), chi.URLParam(r, "token"), viewOf(r))
	if errs.Is(err, errs.NotFound) {
		s.render(w, r, http.StatusNotFound, "share_invalid", "share_invalid", nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if shown.Status != certificates.StatusValid || !shown.SealValid {
		s.errorPage(w, r, http.StatusConflict, "share_file_invalid", "")
		return
	}
	file, err := s.Files.Make(r.Context(), shown.Certificate, licencefile.PDF, licencefile.Options{
		Watermark: shareWatermark(shown.Share.Purpose),
		Shared:    &licencefile.SharedView{Fields: shown.Share.Fields, ShowName: shown.Share.ShowName},
	})
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	writeFile(w, file, shown.Certificate.ID+"-shared.pdf")
}

// shareWatermark is printed across a shared file: the share's purpose, or
// "for checking only" when the holder gave none. It is the licence's
// language, Chinese, whatever the page's.
func shareWatermark(purpose string) string {
	if purpose == "" {
		return "仅供查验"
	}
	return "仅用于" + purpose
}

// fileFormat parses the format and checks the hub can make files.
func (s *Server) fileFormat(w http.ResponseWriter, r *http.Request, format string) (licencefile.Format, bool) {
	if s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "licence files are not configured on this hub"))
		return "", false
	}
	f, err := licencefile.ParseFormat(format)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	return f, true
}

// fileFail shows why a file cannot be made. An authority without the key
// the format needs is a 409 page that says what is missing, instead of a
// broken download; a missing font is the operator's (503, via fail).
func (s *Server) fileFail(w http.ResponseWriter, r *http.Request, err error) {
	var e *errs.Error
	if errs.Is(err, errs.Conflict) && errors.As(err, &e) {
		s.Log.WarnContext(r.Context(), "licence file refused", "reason", e.Message)
		s.errorPage(w, r, http.StatusConflict, "file_unavailable", e.Message)
		return
	}
	s.fail(w, r, err)
}

func writeFile(w http.ResponseWriter, f *licencefile.File, name string) {
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(f.Data)
}
