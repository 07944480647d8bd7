package main_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFederationBackfillAfterRestore: the city is restored from a backup
// taken before the county revoked, suspended and issued more, and the
// county pruned the events that said so (the city had them). When the
// county next pushes, the city answers 409 behind them: the county starts
// its backfill over (logged, in its ledger and its status), and the city
// ends with every licence of the county once, in its state now — the
// revoked one revoked.
func TestFederationBackfillAfterRestore(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	city, county := f.city, f.county
	issuer, typ := countySetup(t, county.p)
	want := map[string]string{}
	var ids []string
	issue := func(no string) {
		t.Helper()
		c := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, no))
		ids = append(ids, c["id"].(string))
		want[c["id"].(string)] = "valid"
	}
	for i := range 3 {
		issue(fmt.Sprintf("JY3301025%03d", i))
	}
	waitAggregated(t, city, want)
	backedUp := city.p.must(200, "GET", "/api/v1/federation", admin, nil)["inbox"].(map[string]any)["330102"].(float64)

	// The backup: the city's data directory, copied while it is stopped.
	backup := filepath.Join(t.TempDir(), "city-backup")
	city.p.stop()
	copyDir(t, city.args[1], backup)
	city.start(t)

	// Since the backup: a revocation, a suspension, an issuance; the city
	// applies them.
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[1]+"/revoke", issuer, map[string]string{"reason": "吊销"})
	county.p.must(200, "POST", "/api/v1/certificates/"+ids[2]+"/suspend", issuer, map[string]string{"reason": "停业整顿"})
	want[ids[1]], want[ids[2]] = "revoked", "suspended"
	issue("JY3301025100")
	waitAggregated(t, city, want)

	// The county now keeps its events a second: restarted so, it prunes
	// those the city applied (once its old process's dispatch lease runs
	// out, a few seconds with a short cadence).
	time.Sleep(time.Second)
	county.p.stop()
	county.extra = []string{"--event-retention", "1s", "--webhook-every", "300ms"}
	county.start(t)
	waitFor(t, 30*time.Second, "the county prunes the events after the city's backup", func() (bool, string) {
		st := county.p.must(200, "GET", "/api/v1/federation", admin, nil)
		p, _ := st["pruned_through"].(float64)
		return p > backedUp, fmt.Sprintf("pruned through %v, the backup holds through %v", st["pruned_through"], backedUp)
	})

	// The city is restored from the backup: it holds three valid
	// licences, and the county's outbox through the point of the backup.
	city.p.stop()
	if err := os.RemoveAll(city.args[1]); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, city.args[1])
	city.start(t)
	if got := aggregated(t, city); len(got) != 3 || got[ids[1]]["state"] != "valid" {
		t.Fatalf("the restored city holds %v", got)
	}

	// The county's next push meets the restored city.
	issue("JY3301025200")
	waitAggregated(t, city, want)

	st := county.p.must(200, "GET", "/api/v1/federation", admin, nil)
	bf, _ := st["backfill"].(map[string]any)
	if bf == nil || bf["round"] != 2.0 || bf["done"] != true || !strings.Contains(fmt.Sprint(bf["reason"]), "pruned") {
		t.Fatalf("the county's backfill after the restore: %v", st["backfill"])
	}
	if !strings.Contains(county.p.log(), `"msg":"federation backfill starts over"`) {
		t.Fatalf("the county did not log that its backfill starts over:\n%s", county.p.log())
	}
	bundle := filepath.Join(t.TempDir(), "county-ledger.jsonl")
	county.cli(t, "audit", "export", "--out", bundle)
	if raw, err := os.ReadFile(bundle); err != nil || !strings.Contains(string(raw), "federation_backfill") ||
		!strings.Contains(string(raw), "restarted: round 2") {
		t.Fatalf("the county's ledger has no record of the restart (%v)", err)
	}
	// What the operator's command does, on top: a third round, which the
	// city applies without changing anything.
	if out := county.cli(t, "federation", "backfill", "--restart"); !strings.Contains(out, `"round": 3`) {
		t.Fatalf("federation backfill --restart: %s", out)
	}
	waitFor(t, 40*time.Second, "the county's third round is done", func() (bool, string) {
		bf := county.p.must(200, "GET", "/api/v1/federation", admin, nil)["backfill"].(map[string]any)
		return bf["round"] == 3.0 && bf["done"] == true, fmt.Sprint(bf)
	})
	waitAggregated(t, city, want)
}

// copyDir copies a directory tree (a stopped hub's data directory).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
