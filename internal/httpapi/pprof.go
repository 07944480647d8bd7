package httpapi

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/certhub/certhub/internal/errs"
)

// pprof serves the runtime's profiles to administrators when the operator
// turned them on (serve --pprof), for finding where memory or CPU goes in
// a running replica: go tool pprof -http=: with the admin token in an
// Authorization header (docs/operations.md). net/http/pprof's handlers
// are mounted here rather than on http.DefaultServeMux, which the hub
// never serves.
func (s *Server) pprof(w http.ResponseWriter, r *http.Request) {
	if !s.Pprof {
		s.fail(w, r, errs.E(errs.NotFound, "profiles are off on this replica (serve --pprof turns them on)"))
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		// The index, and every named profile (heap, allocs, goroutine …).
		pprof.Index(w, r)
	}
}
