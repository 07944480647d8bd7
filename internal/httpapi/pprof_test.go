package httpapi_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/hubtest"
)

// TestPprof: the runtime's profiles are off unless the operator turns them
// on, and then only an administrator gets them; the heap profile served is
// one the Go toolchain's own pprof reads.
func TestPprof(t *testing.T) {
	t.Parallel()
	off := newHub(t)
	if st, _, body := off.raw("GET", "/debug/pprof/heap", off.Admin, "", nil); st != http.StatusNotFound || !strings.Contains(string(body), "--pprof") {
		t.Fatalf("profiles off: %d %s, want 404 naming --pprof", st, body)
	}

	h := newHub(t, hubtest.Profiled())
	h.seed()
	if st, _, _ := h.raw("GET", "/debug/pprof/heap", "", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", st)
	}
	if st, _, _ := h.raw("GET", "/debug/pprof/heap", h.token(exchange.RoleConsumer, ""), "", nil); st != http.StatusForbidden {
		t.Fatalf("as a consumer: %d, want 403", st)
	}
	st, _, index := h.raw("GET", "/debug/pprof/", h.Admin, "", nil)
	if st != 200 || !strings.Contains(string(index), "goroutine") {
		t.Fatalf("index: %d %.200s", st, index)
	}
	st, _, heap := h.raw("GET", "/debug/pprof/heap", h.Admin, "", nil)
	if st != 200 {
		t.Fatalf("heap: %d %.200s", st, heap)
	}
	file := filepath.Join(t.TempDir(), "heap.pb.gz")
	if err := os.WriteFile(file, heap, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "pprof", "-sample_index=inuse_space", "-top", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "flat%") {
		t.Fatalf("go tool pprof could not read the heap profile: %v\n%s", err, out)
	}
	st, _, goroutines := h.raw("GET", "/debug/pprof/goroutine?debug=1", h.Admin, "", nil)
	if st != 200 || !strings.Contains(string(goroutines), "goroutine profile:") {
		t.Fatalf("goroutines: %d %.200s", st, goroutines)
	}
}
