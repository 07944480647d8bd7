package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// sealView answers an upload.
type sealView struct {
	Authority string    `json:"authority"`
	SHA256    string    `json:"sha256"`
	Size      int       `json:"size"`
	URL       string    `json:"url"`
	UpdatedAt time.Time `json:"updated_at"`
}

// putSeal stores an uploaded seal picture: the body is the PNG itself.
func (s *Server) putSeal(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	if _, err := s.Certs.Authority(r.Context(), code); err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "image/png" {
		s.fail(w, r, errs.Field("Content-Type", "must be image/png, with the PNG file itself as the body; got %q", r.Header.Get("Content-Type")))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, certificates.MaxSealBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			msg := fmt.Sprintf("is larger than %d bytes; a seal picture may have at most 1 MiB", certificates.MaxSealBytes)
			s.fail(w, r, &errs.Error{Code: errs.TooLarge, Field: "body", Message: msg, Fields: []errs.FieldError{{Field: "body", Reason: msg}}})
			return
		}
		s.fail(w, r, errs.Field("body", "could not be read: %v", err))
		return
	}
	seal, err := s.Certs.SetSealImage(r.Context(), code, data)
	if err == nil {
		err = s.record(r, "seal_upload", exchange.AuditEntry{Outcome: "ok: " + code + " " + seal.SHA256[:16]})
	}
	if err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	s.writeJSON(w, http.StatusOK, sealView{Authority: code, SHA256: seal.SHA256, Size: len(data),
		URL: "/api/v1/authorities/" + code + "/seal", UpdatedAt: seal.UpdatedAt})
}

// getSeal serves the seal picture. It is public: the same picture is
// printed on every licence file of the authority and shown on public share
// pages, and it discloses nothing else. Browsers and the pages cache it;
// the ETag (its SHA-256) tells them when an upload replaced it.
func (s *Server) getSeal(w http.ResponseWriter, r *http.Request) {
	seal, data, err := s.Certs.SealImage(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	etag := `"` + seal.SHA256 + `"`
	h := w.Header()
	h.Set("ETag", etag)
	if seal.Key == "" {
		// Drawn without a font and not stored: ask again soon.
		h.Set("Cache-Control", "public, max-age=60")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// matchesETag reports whether an If-None-Match header names etag.
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// authorityField names the path's code in a not-found answer.
func authorityField(err error) error {
	var e *errs.Error
	if errors.As(err, &e) && e.Code == errs.NotFound && e.Field == "" && strings.Contains(e.Message, "does not exist") {
		return &errs.Error{Code: errs.NotFound, Field: "code", Message: e.Message, Fields: []errs.FieldError{{Field: "code", Reason: e.Message}}}
	}
	return err
}
