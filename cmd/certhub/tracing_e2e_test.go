package main_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTracingExportsOnExit runs the binary with an OTLP endpoint set, as an
// operator would, against a stand-in collector: the hub says tracing is on,
// and on SIGTERM it sends the spans it still holds, which name the route,
// the service and the database, and nowhere hold the holder's id, though
// it was in an issuance body and in a lookup's query string.
func TestTracingExportsOnExit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var exported bytes.Buffer
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		exported.Write(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT=",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL, "OTEL_SERVICE_NAME=certhub-e2e", "OTEL_SDK_DISABLED=", "OTEL_TRACES_EXPORTER="}
	p := start(t, env, "--data", t.TempDir())
	if !strings.Contains(p.log(), "tracing on") {
		t.Errorf("the hub did not say tracing is on:\n%s", p.log())
	}
	issuer, consumer := setup(t, p)
	p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY13301020000009"))
	p.must(200, "GET", "/api/v1/certificates?type="+licence+"&holder_id="+company, consumer, nil, purpose...)
	p.stop()

	// The batch exporter may also have sent some before the stop.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := exported.String()
		mu.Unlock()
		if strings.Contains(got, "GET /api/v1/certificates") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	got := exported.String()
	mu.Unlock()
	for _, want := range []string{"POST /api/v1/certificates", "GET /api/v1/certificates", "certhub-e2e", "sqlite", "documents.Put"} {
		if !strings.Contains(got, want) {
			t.Errorf("the exported spans (%d bytes) lack %q", len(got), want)
		}
	}
	if strings.Contains(got, company) {
		t.Errorf("the exported spans hold the holder's id %s", company)
	}
}
