package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	verifications *prometheus.CounterVec
	waiting       prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certhub_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "certhub_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			// 30 ms is the p99 the lookups and verification are built for
			// (docs/benchmarks.md): the share of requests over it is exact.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .03, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		// The HTTP status of POST /api/v1/verify is 200 for a forged or
		// revoked licence too: only this counter tells the two apart.
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certhub_verifications_total", Help: "Answers of POST /api/v1/verify, by what was sent (document, id, file) and outcome (valid, invalid).",
		}, []string{"input", "outcome"}),
	}
	// Every series exists from the start, so rate() and alerts see the
	// first invalid answer rather than a series appearing.
	for _, input := range []string{"document", "id", "file"} {
		for _, outcome := range []string{"valid", "invalid"} {
			m.verifications.WithLabelValues(input, outcome)
		}
	}
	m.waiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "certhub_http_requests_waiting", Help: "API requests waiting for their turn because --max-active requests are running.",
	})
	reg.MustRegister(m.requests, m.duration, m.verifications, m.waiting)
	return m
}

// countVerification records one answer of POST /api/v1/verify.
func (s *Server) countVerification(input string, valid bool) {
	if s.metrics == nil {
		return
	}
	outcome := "invalid"
	if valid {
		outcome = "valid"
	}
	s.metrics.verifications.WithLabelValues(input, outcome).Inc()
}

// textHeaders are the request headers whose text the hub stores, logs or
// seals: each must pass the one text rule, checked here for every route.
var textHeaders = []string{"X-Purpose", "X-Case-Id", "Idempotency-Key"}

// checkHeaders drops a client's X-Request-Id that is not short printable
// ASCII, so a fresh one is made instead of logging what the client sent.
func (s *Server) checkHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(middleware.RequestIDHeader); id != "" && !printableASCII(id, 128) {
			r.Header.Del(middleware.RequestIDHeader)
		}
		next.ServeHTTP(w, r)
	})
}

// checkTextHeaders refuses a request whose text headers break the text rule
// (Go's server already refuses control bytes in headers; invalid UTF-8 and
// U+FFFD get through it). It runs after the request id exists, so the
// refusal carries one.
func (s *Server) checkTextHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l errs.List
		for _, h := range textHeaders {
			for _, v := range r.Header.Values(h) {
				if why := certificates.LineProblem(v); why != "" {
					l.Add(h, "%s", why)
				}
			}
		}
		if err := l.Err(); err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func printableASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) requestIDHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", middleware.GetReqID(r.Context()))
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a logged 500 with the JSON error body.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.fail(w, r, errs.Wrap(errs.E(errs.Internal, "panic: %v", v), "panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request and records metrics. It logs the
// route pattern, never the URL: query strings can carry holder ids.
func (s *Server) accessLog(m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := chi.RouteContext(r.Context()).RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			m.requests.WithLabelValues(route, r.Method, strconv.Itoa(ww.Status())).Inc()
			m.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				return
			}
			s.Log.LogAttrs(r.Context(), levelFor(ww.Status()), "http",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", ww.Status()),
				slog.Duration("duration", d), slog.String("client", middleware.GetClientIP(r.Context())),
				slog.String("request_id", middleware.GetReqID(r.Context())))
		})
	}
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// levelFor logs server errors at error, the rest at info (refusals are
// logged at warn where they are made).
func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
