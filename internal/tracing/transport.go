package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Transport returns base with a client span around each call made inside a
// trace, and the W3C traceparent header on it, so that the hub called
// continues the trace; base itself when tp is nil (tracing off). A nil
// base is http.DefaultTransport.
//
// otelhttp's transport would record the full URL, query string included;
// this one records the method, the server's host and port and the status,
// so nothing a caller put in a URL reaches the collector.
func Transport(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if tp == nil {
		return base
	}
	return &transport{base: base, tracer: tp.Tracer(ScopeName)}
}

type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !Inside(ctx) {
		return t.base.RoundTrip(req)
	}
	method := SpanMethod(req.Method)
	ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.ServerAddress(req.URL.Hostname())))
	defer span.End()
	// A RoundTripper must not change the request it was given.
	out := req.Clone(ctx)
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		span.SetStatus(codes.Error, "no answer")
		return nil, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}

// SpanMethod is method as a span may carry it: one of the standard
// methods, else HTTP (as the semantic conventions ask), so that a client
// cannot choose span names.
func SpanMethod(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return method
	}
	return "HTTP"
}
