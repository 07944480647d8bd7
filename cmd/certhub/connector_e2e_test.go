package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
)

// TestConnectorSurvivesSIGKILL: the hub is killed in the middle of a
// scheduled connector run and started again; afterwards the certificates
// equal the source exactly: none missing, none duplicated, all version 1.
func TestConnectorSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	data, drop := t.TempDir(), t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT=",
		"CERTHUB_SCHEDULE_EVERY=200ms", "CERTHUB_CONNECTOR_LEASE=2s"}
	p := start(t, env, "--data", data)
	setup(t, p)
	const n = 1500
	var lines []string
	for i := 1; i <= n; i++ {
		first := fmt.Sprintf("91330102MA2%06d", i)
		lines = append(lines, fmt.Sprintf(`{"no":"JY%08d","uscc":"%s","name":"第%d号餐馆","addr":"延安路%d号","from":"2025-01-01","until":"2029-12-31"}`,
			i, first+string(certificates.USCCCheck(first)), i, i))
	}
	if err := os.WriteFile(filepath.Join(drop, "stock.jsonl"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf(`name: stock
kind: file
source: {dir: %q, pattern: "*.jsonl"}
type: %s
authority: %s
batch_size: 50
schedule: {every: 10s}
mapping:
  key: no
  holder: {kind: {const: organisation}, id: {field: uscc}, name: {field: name}}
  data: {permit_no: {field: no}, address: {field: addr}}
  valid_from: {field: from, date: auto}
  valid_until: {field: until, date: auto}
`, drop, licence, market)
	p.must(201, "POST", "/api/v1/connectors", admin, def)

	// Wait until the scheduled run is under way, then kill the hub outright.
	count := func(q *proc) int {
		total, token := 0, ""
		for {
			page := q.must(200, "GET", "/api/v1/certificates?limit=500&page_token="+token, admin, nil)
			total += len(page["certificates"].([]any))
			next, _ := page["next_page_token"].(string)
			if next == "" {
				return total
			}
			token = next
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	before := 0
	for before = count(p); before < 100; before = count(p) {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled run did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	if before >= n {
		t.Fatalf("the run had finished (%d certificates) before the kill; the test proves nothing", before)
	}
	t.Logf("killed the hub with %d of %d certificates issued", before, n)

	// Start again: once the dead run's lease runs out, the schedule picks
	// the connector up from its saved cursor.
	q := start(t, env, "--data", data)
	deadline = time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(drop, "done", "stock.jsonl")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connector never finished; %d certificates", count(q))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := count(q); got != n {
		t.Fatalf("%d certificates after the crash, want exactly %d", got, n)
	}
	for _, i := range []int{1, n / 2, n} {
		first := fmt.Sprintf("91330102MA2%06d", i)
		list := q.must(200, "GET", "/api/v1/certificates?holder_id="+first+string(certificates.USCCCheck(first)), admin, nil)["certificates"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["version"] != float64(1) {
			t.Fatalf("record %d: %v", i, list)
		}
	}
	runs := q.must(200, "GET", "/api/v1/connectors/stock/runs", admin, nil)["runs"].([]any)
	if len(runs) < 2 {
		t.Fatalf("runs = %v", runs)
	}
	if m := q.do("GET", "/metrics", "", nil); !strings.Contains(string(m.body), `certhub_connector_records_total{connector="stock",outcome="issued"}`) {
		t.Fatal("connector metrics missing")
	}
}

// TestConnectorHistoryMarksPushes: `connectors history` tells a batch a
// department pushed in from a run that pulled from the source.
func TestConnectorHistoryMarksPushes(t *testing.T) {
	t.Parallel()
	data, drop := t.TempDir(), t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT=", "CERTHUB_SCHEDULE_EVERY=0"}
	p := start(t, env, "--data", data)
	setup(t, p)
	def := fmt.Sprintf(`name: pushed
kind: file
source: {dir: %q, pattern: "*.jsonl"}
type: %s
authority: %s
mapping:
  key: no
  holder: {kind: {const: organisation}, id: {field: uscc}, name: {field: name}}
  data: {permit_no: {field: no}, address: {field: addr}}
  valid_from: {field: from, date: auto}
  valid_until: {field: until, date: auto}
`, drop, licence, market)
	p.must(201, "POST", "/api/v1/connectors", admin, def)
	p.must(200, "POST", "/api/v1/connectors/pushed/run", admin, nil)
	pushed := p.must(200, "POST", "/api/v1/connectors/pushed/records", admin, map[string]any{"records": []map[string]string{
		{"no": "JY00000001", "uscc": company, "name": "福建某某餐饮有限公司", "addr": "五四路1号", "from": "2025-01-01", "until": "2029-12-31"}}})
	if pushed["pushed"] != true || pushed["issued"] != float64(1) {
		t.Fatalf("push: %v", pushed)
	}
	p.stop()
	out, code := certhubEnv(t, env, "connectors", "history", "pushed", "--data", data, "--log-level", "warn")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(lines[0], "HOW") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[2] != "push" || f[4] != "1" {
		t.Errorf("the pushed batch is not marked: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 4 || f[2] != "pull" {
		t.Errorf("the pulled run is not marked: %q", lines[2])
	}
}
