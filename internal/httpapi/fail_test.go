package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFailClientGone: a request whose client went away (its context
// canceled, the store's error wrapping that) is answered 499 and logged as
// such, not as an internal error; the same error while the client waits is
// still a 500 logged as an error.
func TestFailClientGone(t *testing.T) {
	var log bytes.Buffer
	s := &Server{Log: slog.New(slog.NewTextHandler(&log, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/api/v1/certificates", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	s.fail(w, r, fmt.Errorf("query: %w", context.Canceled))
	if w.Code != statusClientClosed || strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("client gone: %d, log %s", w.Code, log.String())
	}
	log.Reset()
	w = httptest.NewRecorder()
	s.fail(w, httptest.NewRequest("GET", "/api/v1/certificates", nil), fmt.Errorf("query: %w", context.Canceled))
	if w.Code != 500 || !strings.Contains(log.String(), "level=ERROR") {
		t.Fatalf("canceled while the client waits: %d, log %s", w.Code, log.String())
	}
}
