package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// maxTemplateBytes bounds a template body: 2 MiB of artwork is 2.7 MiB in
// base64, plus the boxes.
const maxTemplateBytes = 4 << 20

// templateView answers both template routes. Default says the type has no
// template of its own and Template is the default layout.
type templateView struct {
	Type     string                 `json:"type"`
	Default  bool                   `json:"default"`
	Template *certificates.Template `json:"template"`
}

// yamlTypes are the Content-Types read as YAML; any other body is JSON.
var yamlTypes = map[string]bool{"application/yaml": true, "application/x-yaml": true, "text/yaml": true, "text/x-yaml": true}

// putTemplate validates and stores a type's template; nothing is stored
// unless every check passes.
func (s *Server) putTemplate(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	if _, err := s.Certs.Type(r.Context(), code); err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTemplateBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			msg := fmt.Sprintf("is larger than %d bytes (4 MiB); artwork may have at most 2 MiB", maxTemplateBytes)
			s.fail(w, r, &errs.Error{Code: errs.TooLarge, Field: "body", Message: msg, Fields: []errs.FieldError{{Field: "body", Reason: msg}}})
			return
		}
		s.fail(w, r, errs.Field("body", "could not be read: %v", err))
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	tp, err := certificates.ParseTemplate(raw, yamlTypes[mt])
	if err == nil {
		err = s.Certs.SetTypeTemplate(r.Context(), code, tp)
	}
	if err == nil {
		err = s.record(r, "type_template", exchange.AuditEntry{Outcome: "ok: " + code})
	}
	if err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	s.Log.InfoContext(r.Context(), "type template stored", "type", code)
	s.writeJSON(w, http.StatusOK, templateView{Type: code, Template: tp})
}

// getTemplate returns the type's template, or the default layout.
func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	tp, stored, err := s.Certs.TypeTemplate(r.Context(), code)
	if err != nil {
		s.fail(w, r, authorityField(err))
		return
	}
	s.writeJSON(w, http.StatusOK, templateView{Type: code, Default: !stored, Template: tp})
}
