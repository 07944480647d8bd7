package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// maxCatalogBytes bounds an imported catalog file (an .xlsx of a few
// thousand items is well under it).
const maxCatalogBytes = 8 << 20

func (s *Server) resolver(w http.ResponseWriter, r *http.Request) bool {
	if s.Items == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "the service item catalog is not configured"))
		return false
	}
	return true
}

// importItems takes a catalog as JSON, YAML, CSV or .xlsx (by
// Content-Type) and stores it whole, or nothing.
func (s *Server) importItems(w http.ResponseWriter, r *http.Request) {
	if !s.resolver(w, r) {
		return
	}
	ext := ".json"
	switch ct := strings.ToLower(r.Header.Get("Content-Type")); {
	case strings.Contains(ct, "yaml"):
		ext = ".yaml"
	case strings.Contains(ct, "csv"):
		ext = ".csv"
	case strings.Contains(ct, "spreadsheetml"):
		ext = ".xlsx"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCatalogBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.fail(w, r, &errs.Error{Code: errs.TooLarge, Field: "body", Message: "a catalog is at most 8 MiB"})
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.Items.ImportFile(r.Context(), principalOf(r.Context()), "catalog"+ext, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	flagged := 0
	for _, it := range items {
		for _, m := range it.Materials {
			if len(m.Flags) > 0 {
				flagged++
			}
		}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"imported": len(items), "flagged_materials": flagged, "items": items})
}

func (s *Server) listItems(w http.ResponseWriter, r *http.Request) {
	if !s.resolver(w, r) {
		return
	}
	items, err := s.Items.Store.ListItems(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(items)})
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	if !s.resolver(w, r) {
		return
	}
	it, err := s.Items.Item(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, it)
}

// resolveItem says, material by material, what e-certificates satisfy.
func (s *Server) resolveItem(w http.ResponseWriter, r *http.Request) {
	if !s.resolver(w, r) {
		return
	}
	var req exchange.ResolveRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	ans, err := s.Items.Resolve(r.Context(), principalOf(r.Context()), chi.URLParam(r, "code"), &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var used []string
	for _, m := range ans.Materials {
		if m.Agreement != "" {
			used = append(used, m.Agreement)
		}
	}
	agreementHeader(w, used)
	s.writeJSON(w, http.StatusOK, ans)
}

// materialsReport is the materials-avoided report, JSON or CSV.
func (s *Server) materialsReport(w http.ResponseWriter, r *http.Request) {
	if !s.resolver(w, r) {
		return
	}
	periodReport(s, w, r, s.Items.MaterialsReport, exchange.MaterialsCSVName, exchange.WriteMaterialsCSV)
}
