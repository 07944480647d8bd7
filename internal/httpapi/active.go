package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certhub/certhub/internal/errs"
)

// DefaultActiveWait is how long a request waits for its turn when
// MaxActive requests are running before it is answered 503.
const DefaultActiveWait = 10 * time.Second

// DefaultMaxActive is serve's --max-active: 16 requests per core the Go
// runtime uses, at least 32. A request mostly waits on PostgreSQL (the
// pool has 4 connections per core) or computes a signature, so 16 a core
// keep the cores and the pool busy while a burst waits in order instead
// of every request in it sharing the cores (docs/operations.md, "Requests
// at once").
func DefaultMaxActive() int { return max(32, 16*runtime.GOMAXPROCS(0)) }

// unlimitedRoutes are not held to MaxActive: the probes, which must
// answer while the hub is busy, and the calls of other hubs, which a hub
// may be waiting on while it holds its own requests' turns (two hubs
// forwarding to each other must not each wait for the other).
var unlimitedRoutes = map[string]bool{
	"/healthz": true, "/readyz": true,
	"/api/v1/federation/aggregate": true, "/api/v1/federation/requests": true,
}

// limitActive lets at most n requests run their handlers at once (their
// bodies read first, see readAhead); the rest wait for a turn in the
// order they came (a freed turn goes to the first waiting sender on the
// channel), for at most wait, and are then answered 503 with
// Retry-After. Work that has started then finishes at the pace of a few
// requests at a time instead of every waiting one getting a slice of the
// cores: under a burst the first requests are not held up by the last
// (their latency is the queue's, not the crowd's), and the database pool
// and memory see at most n requests. The waiting count is the gauge
// certhub_http_requests_waiting.
//
// chi's Throttle does the same, but answers in plain text; the API
// answers every error in its JSON form.
func (s *Server) limitActive(n int, wait time.Duration, waiting prometheus.Gauge) func(http.Handler) http.Handler {
	turns := make(chan struct{}, n)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.readAhead(r)
			select {
			case turns <- struct{}{}:
			default:
				if !s.awaitTurn(w, r, turns, wait, waiting) {
					return
				}
			}
			defer func() { <-turns }()
			next.ServeHTTP(w, r)
		})
	}
}

// readAhead reads the body, up to MaxBodyBytes, before the request takes
// a turn: a client that sends its body slowly then waits on its own
// connection, not in a turn others wait for. The handler reads the same
// bytes, then the rest of a longer body, or the error that ended the
// reading (a client gone, the read timeout) where it would have met it.
func (s *Server) readAhead(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, s.MaxBodyBytes))
	rest := io.Reader(r.Body)
	switch {
	case err != nil:
		rest = errReader{err}
	case int64(len(buf)) < s.MaxBodyBytes:
		rest = http.NoBody // all of it
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), rest), r.Body}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// awaitTurn waits for a turn (senders on a channel are served in order);
// false when the request was answered instead.
func (s *Server) awaitTurn(w http.ResponseWriter, r *http.Request, turns chan struct{}, wait time.Duration, waiting prometheus.Gauge) bool {
	waiting.Inc()
	defer waiting.Dec()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case turns <- struct{}{}:
		return true
	case <-r.Context().Done():
		w.WriteHeader(statusClientClosed) // no one reads it; the metrics and the access log do
		return false
	case <-timer.C:
		s.Log.LogAttrs(r.Context(), slog.LevelWarn, "request not served: the hub is busy",
			slog.Duration("waited", wait), slog.Int("max_active", cap(turns)),
			slog.String("request_id", middleware.GetReqID(r.Context())))
		w.Header().Set("Retry-After", "1") // a turn frees as soon as any request ends
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody(r, &errs.Error{Code: errs.Unavailable,
			Message: "the hub is busy: " + strconv.Itoa(cap(turns)) + " requests were running for all of " + wait.String() + " this request waited; retry shortly"}))
		return false
	}
}
