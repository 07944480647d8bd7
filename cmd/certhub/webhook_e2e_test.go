package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestWebhooksSurviveSIGKILL: the hub is killed while it delivers events
// to a slow receiver; after a restart every event of every certificate
// arrives, in order per certificate. Events are written in the same
// transaction as the change (the outbox), so the kill loses none.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]string{} // certificate → kinds, first receipt of each event
	seen := map[string]bool{}
	received := 0
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(15 * time.Millisecond) // a slow receiver: the kill lands mid-delivery
		body, _ := io.ReadAll(r.Body)
		var d struct {
			Event struct {
				ID, Kind      string
				CertificateID string `json:"certificate_id"`
			}
		}
		_ = json.Unmarshal(body, &d)
		mu.Lock()
		received++
		if !seen[d.Event.ID] {
			seen[d.Event.ID] = true
			got[d.Event.CertificateID] = append(got[d.Event.CertificateID], d.Event.Kind)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()
	unique := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	data := t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT=", "CERTHUB_WEBHOOK_EVERY=100ms",
		"CERTHUB_WEBHOOK_ALLOW=127.0.0.0/8", "CERTHUB_WEBHOOK_BACKOFF=100ms", "CERTHUB_WEBHOOK_TIMEOUT=1s"}
	p := start(t, env, "--data", data)
	issuer, consumer := setup(t, p)
	p.must(201, "POST", "/api/v1/subscriptions", consumer, map[string]any{"url": rcv.URL + "/events"})
	const n = 60
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, p.must(201, "POST", "/api/v1/certificates", issuer, permit(fmt.Sprintf("JY%03d", i)))["id"].(string))
	}
	for _, id := range ids {
		p.must(200, "POST", "/api/v1/certificates/"+id+"/revoke", issuer, map[string]string{"reason": "注销"})
	}
	deadline := time.Now().Add(30 * time.Second)
	for unique() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("no deliveries began:\n%s", p.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	before := unique()
	if before >= 2*n {
		t.Fatalf("all %d events were delivered before the kill; the test proves nothing", before)
	}
	t.Logf("killed the hub with %d of %d events delivered", before, 2*n)

	q := start(t, env, "--data", data)
	deadline = time.Now().Add(60 * time.Second)
	for unique() < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart only %d of %d events arrived:\n%s", unique(), 2*n, q.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if !slices.Equal(got[id], []string{"issued", "revoked"}) {
			t.Fatalf("certificate %s: %v, want issued then revoked", id, got[id])
		}
	}
	t.Logf("%d requests for %d events (repeats after the kill are allowed)", received, 2*n)
}
