package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOrphanSweepCommandAndJob runs the embedded hub and leaves two
// orphans in its document directory, one older than a day and one young,
// and gives the certificate's own document an old time too. certhub doctor
// orphans --dry-run lists only the old orphan and deletes nothing; without
// --dry-run it deletes it and records the run in the audit ledger, which
// still verifies, and the certificate's document still reads back. A hub
// started with a short --orphan-sweep-every then sweeps a second old orphan
// by itself and counts it in its metrics.
func TestOrphanSweepCommandAndJob(t *testing.T) {
	t.Parallel()
	env, store, db := embeddedStore(t)
	data := store[1]
	p := start(t, env, append(store, "--orphan-sweep-every", "0")...)
	issuer, _ := setup(t, p)
	id := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1"))["id"].(string)
	var key string
	if err := db.QueryRow(`SELECT document_key FROM certificates WHERE id = $1`, id).Scan(&key); err != nil {
		t.Fatal(err)
	}
	docs := filepath.Join(data, "documents")
	old := time.Now().Add(-72 * time.Hour)
	write := func(key string, age time.Time) string {
		t.Helper()
		path := filepath.Join(docs, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("orphan"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, age, age); err != nil {
			t.Fatal(err)
		}
		return path
	}
	oldOrphan := write("documents/crash/000009-dead.jws", old)
	youngOrphan := write("documents/crash/000010-beef.jws", time.Now())
	if err := os.Chtimes(filepath.Join(docs, filepath.FromSlash(key)), old, old); err != nil {
		t.Fatal(err)
	}
	doctor := func(args ...string) (string, int) {
		t.Helper()
		return certhubEnv(t, env, append(append([]string{"doctor", "orphans"}, args...), store...)...)
	}
	out, code := doctor("--dry-run")
	if code != 0 || !strings.Contains(out, "would delete documents/crash/000009-dead.jws (6 bytes, 72h0m") ||
		strings.Contains(out, "000010-beef") || strings.Contains(out, key) || !strings.Contains(out, "1 orphans (6 bytes), 1 unreferenced but younger") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(oldOrphan); err != nil {
		t.Fatalf("a dry run deleted: %v", err)
	}
	if out, code := doctor("--min-age", "1m"); code == 0 || !strings.Contains(out, "at least 1h0m0s") {
		t.Fatalf("a minimum age under an hour: exit %d\n%s", code, out)
	}
	out, code = doctor()
	if code != 0 || !strings.Contains(out, "deleted      documents/crash/000009-dead.jws") {
		t.Fatalf("sweep: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(oldOrphan); !os.IsNotExist(err) {
		t.Fatalf("old orphan still there: %v", err)
	}
	if _, err := os.Stat(youngOrphan); err != nil {
		t.Fatalf("young orphan swept: %v", err)
	}
	if got := p.do("GET", "/api/v1/certificates/"+id+"/document", admin, nil); got.status != 200 {
		t.Fatalf("the certificate's document after the sweep: %d %s", got.status, got.body)
	}
	if v := p.verify(map[string]string{"id": id}); v["valid"] != true {
		t.Fatalf("verify after the sweep: %v", v)
	}
	var logged int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE body LIKE '%"action":"orphan_sweep"%' AND body LIKE '%deleted 1 objects (6 bytes)%'`).
		Scan(&logged); err != nil || logged != 1 {
		t.Fatalf("sweep entries in the audit ledger: %d, %v", logged, err)
	}
	if out, code := certhubEnv(t, env, append([]string{"audit", "verify"}, store...)...); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}

	// The background job, on a hub of its own.
	p.stop()
	second := write("federated/330102/batches/0a1b.jwsl", old)
	q := start(t, env, append(store, "--orphan-sweep-every", "1s")...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The run's log line comes once the whole sweep has finished.
		if _, err := os.Stat(second); os.IsNotExist(err) && strings.Contains(q.log(), `"msg":"orphan sweep"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background sweep did not delete the orphan:\n%s", q.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(youngOrphan); err != nil {
		t.Fatalf("young orphan swept by the job: %v", err)
	}
	if m := q.do("GET", "/metrics", "", nil); !strings.Contains(string(m.body), "certhub_orphan_objects_deleted_total 1") {
		t.Fatalf("metrics:\n%s", m.body)
	}
	if !strings.Contains(q.log(), `"msg":"orphan object","key":"federated/330102/batches/0a1b.jwsl","size":6`) {
		t.Fatalf("the deletion is not logged with its key and size:\n%s", q.log())
	}
}
