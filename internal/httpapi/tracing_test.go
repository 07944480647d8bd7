package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/tracing"
)

// TestTracingIssuance issues a certificate on a hub with PostgreSQL and S3
// whose spans go to memory, and checks that the request is one trace: the
// server span named by its route, continuing the caller's trace context,
// with database and object store spans under it; and that no span names
// the holder, in its name or its attributes, even for a lookup by holder.
func TestTracingIssuance(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHub(t, hubtest.OnPostgres(), hubtest.OnS3(), hubtest.Traced(tp))
	h.seed()
	exp.Reset() // the migrations and the seeding are traces of their own

	// The caller's trace: the hub must continue it, not start another.
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil,
		"traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01"); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	spans := waitForSpan(t, exp, "POST /api/v1/certificates")
	var server tracetest.SpanStub
	for _, s := range spans {
		if s.Name == "POST /api/v1/certificates" {
			server = s
		}
	}
	if got := server.SpanContext.TraceID().String(); got != callerTrace {
		t.Fatalf("the server span's trace is %s, not the caller's %s", got, callerTrace)
	}
	if server.SpanKind != trace.SpanKindServer || !server.Parent.IsRemote() {
		t.Errorf("server span: kind %v, parent remote %v; want a server span under the caller's", server.SpanKind, server.Parent.IsRemote())
	}
	if v, _ := attr(server, "http.route"); v != "/api/v1/certificates" {
		t.Errorf("http.route = %q", v)
	}

	// Every span of the trace descends from the server span.
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == server.SpanContext.TraceID() {
			byID[s.SpanContext.SpanID()] = s
		}
	}
	under := func(s tracetest.SpanStub) bool {
		for range len(byID) {
			if s.Parent.SpanID() == server.SpanContext.SpanID() {
				return true
			}
			p, ok := byID[s.Parent.SpanID()]
			if !ok {
				return false
			}
			s = p
		}
		return false
	}
	var db, objects int
	for _, s := range byID {
		if s.SpanContext.SpanID() == server.SpanContext.SpanID() {
			continue
		}
		if !under(s) {
			t.Errorf("span %q is in the trace but not under the server span", s.Name)
		}
		if v, _ := attr(s, "db.system.name"); v == "postgresql" {
			db++
			if op, _ := attr(s, "db.operation.name"); op == "" || s.Name != op {
				t.Errorf("database span %q has operation %q", s.Name, op)
			}
		}
		if s.Name == "documents.Put" {
			objects++
			if b, _ := attr(s, "aws.s3.bucket"); !strings.HasPrefix(b, "hub-") {
				t.Errorf("object store span's bucket = %q", b)
			}
		}
	}
	if db == 0 || objects == 0 {
		t.Fatalf("the issuance's trace has %d database and %d object store spans; want both (spans: %v)", db, objects, names(byID))
	}

	// A department-style lookup names the holder in its query string.
	exp.Reset()
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID+"&holder_kind=organisation", h.Admin, nil, nil); st != 200 {
		t.Fatalf("lookup: %d", st)
	}
	waitForSpan(t, exp, "GET /api/v1/certificates")
	for _, s := range exp.GetSpans() {
		if strings.Contains(s.Name, companyID) {
			t.Errorf("span name %q holds the holder's id", s.Name)
		}
		for _, kv := range append(s.Attributes, s.Resource.Attributes()...) {
			if strings.HasPrefix(string(kv.Key), "url.") && kv.Key != "url.scheme" {
				t.Errorf("span %q records %s: paths and queries may hold holder ids and share tokens", s.Name, kv.Key)
			}
			if v := kv.Value.Emit(); strings.Contains(v, companyID) || strings.Contains(v, "holder_id") {
				t.Errorf("span %q: attribute %s = %q holds the holder's id", s.Name, kv.Key, v)
			}
		}
	}
}

// TestTracingOff: with no OTEL_* variable Setup installs nothing, and a hub
// built from what it returns has no tracing handler and no span to record.
func TestTracingOff(t *testing.T) {
	t.Parallel()
	tp, shutdown, err := tracing.Setup(context.Background(), func(string) string { return "" }, "test")
	if err != nil || tp != nil {
		t.Fatalf("Setup without variables: %v, %v; want no provider", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newHub(t, hubtest.Traced(tp))
	if _, ok := h.Srv.Config.Handler.(*chi.Mux); !ok {
		t.Errorf("with tracing off the handler is %T, not the bare router", h.Srv.Config.Handler)
	}
	h.seed()
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
		t.Fatalf("issue: %d", st)
	}
}

// waitForSpan returns the spans once one named name has ended: the server
// span ends just after the answer is written, so it may be a moment late.
func waitForSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	t.Helper()
	for range 500 {
		spans := exp.GetSpans()
		for _, s := range spans {
			if s.Name == name {
				return spans
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no span %q ended; spans: %v", name, exp.GetSpans())
	return nil
}

func attr(s tracetest.SpanStub, key attribute.Key) (string, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

func names(spans map[trace.SpanID]tracetest.SpanStub) []string {
	var n []string
	for _, s := range spans {
		n = append(n, s.Name)
	}
	return n
}

// TestTracingSQLite issues on the embedded default (SQLite and a
// directory) without a caller's trace context: the request starts a trace
// of its own, with SQLite and directory spans under it.
func TestTracingSQLite(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := newHub(t, hubtest.Traced(tp))
	h.seed()
	exp.Reset()
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	spans := waitForSpan(t, exp, "POST /api/v1/certificates")
	var root trace.SpanContext
	for _, s := range spans {
		if s.Name == "POST /api/v1/certificates" {
			if s.Parent.IsValid() {
				t.Errorf("a request without traceparent got parent %v", s.Parent)
			}
			root = s.SpanContext
		}
	}
	var db, objects int
	for _, s := range spans {
		if s.SpanContext.TraceID() != root.TraceID() {
			continue
		}
		if v, _ := attr(s, "db.system.name"); v == "sqlite" {
			db++
		}
		if v, _ := attr(s, "certhub.document_store"); v == "directory" && s.Name == "documents.Put" {
			objects++
		}
	}
	if db == 0 || objects == 0 {
		t.Fatalf("the issuance's trace has %d SQLite and %d directory spans; want both", db, objects)
	}
}

// BenchmarkVerifyHTTPTraced is BenchmarkVerifyHTTP with tracing on, every
// request sampled, spans batched to an exporter that drops them: what
// tracing costs a verification when it is on (docs/benchmarks.md).
func BenchmarkVerifyHTTPTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHub(b, hubtest.Traced(tp), hubtest.Unlimited())
	h.Certs.Cache = certificates.NewStatusCache(1000)
	benchVerifyHTTP(b, h)
}
