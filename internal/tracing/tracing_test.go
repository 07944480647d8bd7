package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/tracing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		env     []string
		on, bad bool
	}{
		{name: "nothing set is off"},
		{name: "an endpoint turns it on", env: []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, on: true},
		{name: "a traces endpoint turns it on", env: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"}, on: true},
		{name: "otlp exporter turns it on", env: []string{"OTEL_TRACES_EXPORTER", "otlp"}, on: true},
		{name: "exporter names are not case sensitive", env: []string{"OTEL_TRACES_EXPORTER", " OTLP "}, on: true},
		{name: "none wins over an endpoint", env: []string{"OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}},
		{name: "SDK disabled wins over otlp", env: []string{"OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "otlp"}},
		{name: "SDK disabled is not case sensitive", env: []string{"OTEL_SDK_DISABLED", "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}},
		{name: "SDK disabled false leaves the rule", env: []string{"OTEL_SDK_DISABLED", "false", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, on: true},
		{name: "another exporter is refused", env: []string{"OTEL_TRACES_EXPORTER", "zipkin"}, bad: true},
		{name: "a list of exporters is refused", env: []string{"OTEL_TRACES_EXPORTER", "otlp,console"}, bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			on, err := tracing.Enabled(env(c.env...))
			if (err != nil) != c.bad || on != c.on {
				t.Fatalf("Enabled = %v, %v; want on %v, error %v", on, err, c.on, c.bad)
			}
		})
	}
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		env  []string
		want string // "" for an error
	}{
		{name: "default", want: "http/protobuf"},
		{name: "grpc", env: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, want: "grpc"},
		{name: "the traces variable wins", env: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"}, want: "http/protobuf"},
		{name: "json is refused", env: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := tracing.Protocol(env(c.env...))
			if got != c.want || (err != nil) != (c.want == "") {
				t.Fatalf("Protocol = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestSetup turns tracing on by the environment and checks what it
// installs globally, then restores the globals.
func TestSetup(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			// Nothing listens there; exporters connect only to export.
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
			t.Setenv("OTEL_SERVICE_NAME", "")
			tp, shutdown, err := tracing.Setup(context.Background(), env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL", proto), "v1.2.3")
			if err != nil || tp == nil {
				t.Fatalf("Setup = %v, %v", tp, err)
			}
			if _, ok := tp.(*sdktrace.TracerProvider); !ok || otel.GetTracerProvider() != tp {
				t.Errorf("the global provider is %T, not Setup's", otel.GetTracerProvider())
			}
			if _, ok := otel.GetTextMapPropagator().(propagation.TraceContext); !ok {
				t.Errorf("the global propagator is %T, want W3C trace context only", otel.GetTextMapPropagator())
			}
			// Nothing was recorded, so shutdown has nothing to send.
			if err := shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	_, _, err := tracing.Setup(context.Background(), env("OTEL_TRACES_EXPORTER", "console"), "v1")
	if err == nil {
		t.Error("Setup accepted OTEL_TRACES_EXPORTER=console")
	}
}

func TestResource(t *testing.T) {
	res, err := tracing.Resource("v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	if got["service.name"] != "certhub" || got["service.version"] != "v1.2.3" {
		t.Errorf("resource %v; want service.name certhub and service.version v1.2.3", got)
	}
	t.Setenv("OTEL_SERVICE_NAME", "certhub-city")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	res, err = tracing.Resource("v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	if got["service.name"] != "certhub-city" || got["deployment.environment.name"] != "test" {
		t.Errorf("resource %v; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES should win", got)
	}
}

func TestOperation(t *testing.T) {
	t.Parallel()
	for sql, want := range map[string]string{
		"SELECT 1":                             "SELECT",
		"\n\t  insert into t values ($1)":      "INSERT",
		"WITH x AS (SELECT 1) SELECT * FROM x": "WITH",
		"(SELECT 1) UNION (SELECT 2)":          "SELECT",
		"begin":                                "BEGIN",
		"":                                     "SQL",
		"-- comment\nSELECT 1":                 "SQL",
	} {
		if got := tracing.Operation(sql); got != want {
			t.Errorf("Operation(%q) = %q, want %q", sql, got, want)
		}
	}
}

// TestStartQuery: a statement with a literal is not recorded, one with
// placeholders is, cut to length; a statement outside a trace is no span.
func TestStartQuery(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := tp.Tracer("test")
	_, span := tracing.StartQuery(context.Background(), tr, tracing.PostgreSQL, "SELECT 1")
	tracing.End(span, nil)
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("a statement outside a trace made %d spans", n)
	}
	ctx, request := tr.Start(context.Background(), "request")
	long := "SELECT a FROM t WHERE id = $1" + strings.Repeat(" AND b = $2", 40)
	for _, sql := range []string{"SELECT a FROM t WHERE id = $1", "SELECT a FROM t WHERE holder = '91350100M000100Y43'", long} {
		_, span := tracing.StartQuery(ctx, tr, tracing.PostgreSQL, sql)
		tracing.End(span, nil)
	}
	request.End()
	spans := exp.GetSpans()
	text := func(i int) (string, bool) {
		for _, kv := range spans[i].Attributes {
			if kv.Key == "db.query.text" {
				return kv.Value.AsString(), true
			}
		}
		return "", false
	}
	if got, _ := text(0); got != "SELECT a FROM t WHERE id = $1" {
		t.Errorf("statement recorded as %q", got)
	}
	if got, ok := text(1); ok {
		t.Errorf("a statement with a literal was recorded: %q", got)
	}
	if got, _ := text(2); len(got) != 300 {
		t.Errorf("a long statement was recorded with %d bytes", len(got))
	}
}

// TestDocuments: off, the store is returned as it is; on, each operation
// is a span that names the kind of object, not its key, and an expected
// refusal (not found) is not an error.
func TestDocuments(t *testing.T) {
	t.Parallel()
	dir, err := filestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := tracing.Documents(dir, nil, "directory", ""); got != certificates.DocumentStore(dir) {
		t.Fatalf("with tracing off Documents returned %T, not the store", got)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	docs := tracing.Documents(dir, tp, "directory", "")
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	defer request.End()
	const key = "documents/T001/A/S-42/001-abcdef.jws"
	if err := docs.Put(ctx, key, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := docs.Get(ctx, "documents/none"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Get of nothing: %v", err)
	}
	if _, err := docs.GetRange(ctx, key, 0, 1); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for i, want := range []string{"documents.Put", "documents.Get", "documents.GetRange"} {
		s := spans[i]
		if s.Name != want || s.Status.Code != codes.Unset {
			t.Errorf("span %d: %q status %v; want %q unset", i, s.Name, s.Status, want)
		}
		for _, kv := range s.Attributes {
			if v := kv.Value.Emit(); strings.Contains(v, "S-42") {
				t.Errorf("span %q records %s = %q", s.Name, kv.Key, v)
			}
			if kv.Key == "certhub.object_kind" && kv.Value.AsString() != "documents" {
				t.Errorf("object kind %q", kv.Value.AsString())
			}
		}
	}
}

// TestTransport: a call made inside a trace carries its traceparent and is
// a client span without the URL; outside a trace, or with tracing off, the
// request goes out as it was.
func TestTransport(t *testing.T) {
	t.Parallel()
	got := make(chan string, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer srv.Close()
	if tracing.Transport(srv.Client().Transport, nil) != srv.Client().Transport {
		t.Error("with tracing off Transport wrapped the transport")
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	client := &http.Client{Transport: tracing.Transport(srv.Client().Transport, tp)}
	const secret = "holder_id=91350100M000100Y43"

	call := func(ctx context.Context) string {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/x?"+secret, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.Header.Get("traceparent") != "" {
			t.Error("the transport changed the caller's request")
		}
		return <-got
	}
	if h := call(context.Background()); h != "" || len(exp.GetSpans()) != 0 {
		t.Errorf("outside a trace: traceparent %q, %d spans", h, len(exp.GetSpans()))
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	h := call(ctx)
	parent.End()
	if !strings.Contains(h, parent.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q does not carry the trace %s", h, parent.SpanContext().TraceID())
	}
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "GET" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans %v; want a GET client span under the request", spans)
	}
	for _, kv := range spans[0].Attributes {
		if strings.Contains(kv.Value.Emit(), "holder_id") || strings.Contains(kv.Value.Emit(), "/x") {
			t.Errorf("client span records %s = %q", kv.Key, kv.Value.Emit())
		}
	}
}
