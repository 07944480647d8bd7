package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/internal/tracing"
)

// urlKey carries a request's URL past the tracing handler, which sees a
// copy without path or query (traced).
type urlKey struct{}

// traced wraps the router in otelhttp's server handler: one span per
// request, continuing the caller's W3C trace context.
//
// otelhttp records the request's path (url.path) when the span starts,
// and certhub's paths are not all fit for a trace: a share link's path is
// its secret token. So the handler is given a copy of the request whose URL
// has neither path nor query, and the router gets the real URL back;
// routeSpan names the span by the route pattern once the router has
// matched it.
func (s *Server) traced(router http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := r.Context().Value(urlKey{}).(*url.URL); ok {
			r.URL = u
		}
		router.ServeHTTP(w, r)
	})
	h := otelhttp.NewHandler(inner, "http.server", otelhttp.WithTracerProvider(s.Tracing),
		otelhttp.WithPropagators(propagation.TraceContext{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bare := url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host}
		outer := r.WithContext(context.WithValue(r.Context(), urlKey{}, r.URL))
		outer.URL = &bare
		h.ServeHTTP(w, outer)
	})
}

// routeSpan names the request's server span "METHOD /route/{pattern}" and
// sets http.route, after the router has matched the route. A request no
// route matched keeps the bare method.
func routeSpan(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Deferred, so a request whose handler panicked is named too.
		defer func() {
			span := trace.SpanFromContext(r.Context())
			rc := chi.RouteContext(r.Context())
			if !span.IsRecording() || rc == nil {
				return
			}
			if p := rc.RoutePattern(); p != "" && p != "/*" {
				span.SetName(tracing.SpanMethod(r.Method) + " " + p)
				span.SetAttributes(semconv.HTTPRoute(p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
