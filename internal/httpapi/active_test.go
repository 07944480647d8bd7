package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/metricstest"
)

// TestMaxActive: with --max-active 1, a small body sent slowly takes no
// turn; a request that holds the only turn (a long body still arriving)
// makes the next one wait, in order, and be served when the turn is free;
// one that waits longer than the wait is answered 503 in the API's error
// form with Retry-After; the probes answer throughout, and the waiting
// gauge counts the one waiting.
func TestMaxActive(t *testing.T) {
	t.Parallel()
	const wait = 2 * time.Second
	h := newHub(t, hubtest.MaxActive(1, wait))

	verify := func(body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest("POST", h.Srv.URL+"/api/v1/verify", body)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	status := func(body string) (int, http.Header, []byte) {
		resp, err := verify(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	const probe = `{"id": "does-not-exist"}`
	if st, _, b := status(probe); st == http.StatusServiceUnavailable {
		t.Fatalf("one request alone: %d %s", st, b)
	}

	send := func(body io.Reader) chan int {
		done := make(chan int, 1)
		go func() {
			resp, err := verify(body)
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		return done
	}

	// A client sending a small body slowly waits on its own connection,
	// not in the turn: the others are served meanwhile.
	slowR, slowW := io.Pipe()
	t.Cleanup(func() { slowW.Close() })
	slow := send(slowR)
	if _, err := slowW.Write([]byte(`{"id": "`)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if st, _, b := status(probe); st == http.StatusServiceUnavailable {
			t.Fatalf("while a small body arrives slowly: %d %s, want the others served", st, b)
		}
	}
	slowW.Write([]byte(`x"}`))
	slowW.Close()
	if st := <-slow; st == -1 || st == http.StatusServiceUnavailable {
		t.Fatalf("the slow sender: %d", st)
	}

	// The holder: a body of all that is read ahead (1 MiB) and maybe more,
	// which has not come; its handler holds the only turn reading on.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	held := send(pr)
	const prefix = `{"id": "`
	if _, err := pw.Write([]byte(prefix + strings.Repeat("a", 1<<20-len(prefix)))); err != nil {
		t.Fatal(err)
	}

	// Until the holder has the turn, probes are served; then one is refused.
	var st int
	var hdr http.Header
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if st, hdr, body = status(probe); st == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st != http.StatusServiceUnavailable {
		t.Fatalf("while the only turn is held: %d %s, want 503", st, body)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "busy") {
		t.Fatalf("busy answer: %s (%v), want the API's error form saying the hub is busy", body, err)
	}
	if hdr.Get("Retry-After") != "1" {
		t.Fatalf("busy answer: Retry-After %q, want 1", hdr.Get("Retry-After"))
	}
	if st, _, b := h.raw("GET", "/healthz", "", "", nil); st != http.StatusOK {
		t.Fatalf("/healthz while busy: %d %s", st, b)
	}

	// A request that comes now waits, is counted, and is served once the
	// holder is done.
	served := make(chan int, 1)
	go func() {
		st, _, _ := status(probe)
		served <- st
	}()
	var waiting float64
	for deadline := time.Now().Add(wait / 2); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if waiting = metricstest.Value(metricstest.Scrape(t, h.Srv.URL), "certhub_http_requests_waiting"); waiting == 1 {
			break
		}
	}
	if waiting != 1 {
		t.Fatalf("certhub_http_requests_waiting = %v while one request waits, want 1", waiting)
	}
	pw.Close() // the holder's body ends early: it is refused, and its turn is free
	if st := <-held; st == -1 || st == http.StatusServiceUnavailable {
		t.Fatalf("the holder: %d", st)
	}
	if st := <-served; st == http.StatusServiceUnavailable {
		t.Fatalf("the request that waited less than %s: %d, want it served", wait, st)
	}
	if w := metricstest.Value(metricstest.Scrape(t, h.Srv.URL), "certhub_http_requests_waiting"); w != 0 {
		t.Fatalf("certhub_http_requests_waiting = %v after, want 0", w)
	}
}
