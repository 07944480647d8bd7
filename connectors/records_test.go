package connectors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/errs"
)

// apiDefinition is a connector on a department's JSON API whose records
// name their fields in pinyin initials, as many departments' systems do.
func apiDefinition(url, incremental string) string {
	return fmt.Sprintf(`
name: dept-api
kind: http
source:
  url: %s
  records: items
  retries: 0
  %s
type: %s
authority: %s
batch_size: 50
mapping:
  key: xkzh
  holder:
    kind: {const: organisation}
    id: {field: tyshxydm}
    name: {field: jyzmc}
  data:
    permit_no: {field: xkzh}
    legal_representative: {field: fddbr}
    operator_type: {const: 餐饮服务经营者（小型餐馆）}
    business_items: {const: 热食类食品制售}
    address: {field: jycs}
  valid_from: {field: fzrq, date: auto}
  valid_until: {field: yxqz, date: auto}
`, url, incremental, permit, demo.Market)
}

// apiRecord is one record of that API as JSON text, so that a test can put
// bytes in it that are not UTF-8.
func apiRecord(n int, name, address, updated string) string {
	return fmt.Sprintf(`{"xkzh":"JY%08d","tyshxydm":%q,"jyzmc":%s,"fddbr":"王伟","jycs":%s,"fzrq":"2024-03-01","yxqz":"2029-02-28","meta":{"updated":%s}}`,
		n, uscc(n), name, address, updated)
}

// fixedAPI answers every request with the same body.
type fixedAPI struct {
	mu   sync.Mutex
	body string
}

func (f *fixedAPI) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(f.body))
}

func quarantineReasons(t *testing.T, e *connectors.Engine, name string) map[string]string {
	t.Helper()
	q, err := e.Store.ListQuarantine(context.Background(), name, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, x := range q {
		out[x.SourceKey] = x.Reason
	}
	return out
}

// TestPushedTextRule: records pushed in with text the hub does not accept
// (NUL, control characters, bidi overrides, bytes that are not UTF-8; in a
// data field, the holder's name or the key) are quarantined with the
// target and the source field named; none is sealed, none is dropped.
func TestPushedTextRule(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	if _, _, err := e.Apply(ctx, []byte(apiDefinition("https://dept.example/api", ""))); err != nil {
		t.Fatal(err)
	}
	rec := func(n int, change func(map[string]any)) connectors.Record {
		var f map[string]any
		_ = json.Unmarshal([]byte(apiRecord(n, `"杭州第一餐饮有限公司"`, `"延安路1号"`, `"2026-03-01T09:00:00+08:00"`)), &f)
		change(f)
		return connectors.Record{Fields: f}
	}
	records := []connectors.Record{
		rec(1, func(map[string]any) {}),
		rec(2, func(f map[string]any) { delete(f, "fddbr") }),
		rec(3, func(f map[string]any) { f["jyzmc"] = "杭州第三\x00餐饮有限公司" }),
		rec(4, func(f map[string]any) { f["jycs"] = "延安路\xb7\xa2号" }), // GBK bytes
		rec(5, func(f map[string]any) { f["jycs"] = "延安路\u202e号5" }),
		rec(6, func(f map[string]any) { f["jycs"] = "延安路\x1b[31m6号" }),
		rec(7, func(f map[string]any) { f["xkzh"] = "JY0000\x007" }),
		rec(8, func(f map[string]any) { f["fddbr"] = "王\ufffd伟" }),
	}
	run, err := e.Push(ctx, "dept-api", records)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seen != 8 || run.Issued != 1 || run.Quarantined != 7 {
		t.Fatalf("push: %+v", run.Counts)
	}
	got := quarantineReasons(t, e, "dept-api")
	want := map[string]string{
		"JY00000002":    "data.legal_representative (source fddbr): is required",
		"JY00000003":    "holder.name (source jyzmc): holds the control character U+0000 (NUL)",
		"JY00000004":    "data.address (source jycs): is not valid UTF-8",
		"JY00000005":    "data.address (source jycs): holds the bidirectional control character U+202E",
		"JY00000006":    "data.address (source jycs): holds the control character U+001B (ESC)",
		`"JY0000\x007"`: "key (source xkzh): holds the control character U+0000 (NUL)",
		"JY00000008":    "data.legal_representative (source fddbr): holds U+FFFD",
	}
	for key, w := range want {
		if !strings.HasPrefix(got[key], w) {
			t.Errorf("quarantined %s: %q, want it to start %q", key, got[key], w)
		}
	}
	for n := 2; n <= 8; n++ {
		if cs := holderCerts(t, h, n); len(cs) != 0 {
			t.Errorf("record %d was sealed: %+v", n, cs[0].Data)
		}
	}
}

// TestHTTPTextRule: the same through the http source, where the
// department's answer itself holds the bytes.
func TestHTTPTextRule(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	api := &fixedAPI{body: `{"items":[` + strings.Join([]string{
		apiRecord(1, `"杭州第一餐饮有限公司"`, `"延安路1号"`, `"2026-03-01T09:00:00+08:00"`),
		apiRecord(2, `"杭州第二\u0000餐饮有限公司"`, `"延安路2号"`, `"2026-03-01T09:00:01+08:00"`),
		apiRecord(3, `"杭州第三餐饮有限公司"`, "\"延安路\xb7\xa23号\"", `"2026-03-01T09:00:02+08:00"`),
		apiRecord(4, `"杭州第四餐饮有限公司"`, `"延安路\u00074号"`, `"2026-03-01T09:00:03+08:00"`),
	}, ",") + `]}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, _, err := e.Apply(ctx, []byte(apiDefinition(srv.URL, "incremental: {param: since, field: meta.updated}"))); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "dept-api", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Seen != 4 || run.Issued != 1 || run.Quarantined != 3 {
		t.Fatalf("run: %+v", run.Counts)
	}
	got := quarantineReasons(t, e, "dept-api")
	for key, w := range map[string]string{
		"JY00000002": "holder.name (source jyzmc): holds the control character U+0000 (NUL)",
		"JY00000003": "data.address (source jycs): holds U+FFFD", // the answer was not UTF-8 there
		"JY00000004": "data.address (source jycs): holds the control character U+0007 (BEL)",
	} {
		if !strings.HasPrefix(got[key], w) {
			t.Errorf("quarantined %s: %q, want it to start %q", key, got[key], w)
		}
	}
	for n := 2; n <= 4; n++ {
		if cs := holderCerts(t, h, n); len(cs) != 0 {
			t.Errorf("record %d was sealed", n)
		}
	}
}

// TestUnreadableCursorFailsTheRun: a record whose change time cannot be
// read fails the run with its key, its value and the URL (once), and the
// cursor stays; the source's records are not read again as if new on the
// next run, silently.
func TestUnreadableCursorFailsTheRun(t *testing.T) {
	t.Parallel()
	_, e := setup(t)
	ctx := context.Background()
	api := &fixedAPI{body: `{"items":[` + apiRecord(1, `"杭州第一餐饮有限公司"`, `"延安路1号"`, `1772326800000`) + "," +
		apiRecord(2, `"杭州第二餐饮有限公司"`, `"延安路2号"`, `"上周三"`) + `]}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, _, err := e.Apply(ctx, []byte(apiDefinition(srv.URL, "incremental: {param: since, field: meta.updated}"))); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "dept-api", nil)
	if err == nil {
		t.Fatalf("the run succeeded: %+v", run)
	}
	for _, w := range []string{"record 2", "key JY00000002", "meta.updated", `"上周三"`} {
		if !strings.Contains(err.Error(), w) || !strings.Contains(run.Error, w) {
			t.Errorf("the run's error %q does not say %q", err, w)
		}
	}
	if n := strings.Count(run.Error, srv.URL); n != 1 {
		t.Errorf("the run's error names the URL %d times: %s", n, run.Error)
	}
	if _, c, _ := e.Get(ctx, "dept-api"); c.Cursor != "" || run.Status != "failed" {
		t.Fatalf("cursor %q, status %s after a failed run", c.Cursor, run.Status)
	}
	// Fixed at the source: the run goes through and the cursor moves to the
	// latest change, as the source wrote it (epoch milliseconds).
	api.mu.Lock()
	api.body = strings.Replace(api.body, `"上周三"`, `1772326801000`, 1)
	api.mu.Unlock()
	if run, err = e.Run(ctx, "dept-api", nil); err != nil || run.Issued != 2 {
		t.Fatalf("after the fix: %+v %v", run, err)
	}
	if _, c, _ := e.Get(ctx, "dept-api"); !strings.Contains(c.Cursor, `"since":"1772326801000"`) {
		t.Fatalf("cursor = %s", c.Cursor)
	}
}

// TestApplyRejectsImpossibleCursor: a cursor path no record can satisfy
// fails at apply, at its setting.
func TestApplyRejectsImpossibleCursor(t *testing.T) {
	t.Parallel()
	_, e := setup(t)
	for _, tt := range []struct {
		name, incremental, want string
	}{
		{"empty part", "incremental: {param: since, field: meta..updated}", "empty part"},
		{"inside a mapped value", "incremental: {param: since, field: jycs.updated}", "reads as a value"},
		{"an object the mapping reads into", "incremental: {param: since, field: meta}", "is an object"},
	} {
		def := apiDefinition("https://dept.example/api", tt.incremental)
		if tt.name == "an object the mapping reads into" {
			def = strings.Replace(def, "address: {field: jycs}", "address: {field: meta.address}", 1)
		}
		_, _, err := e.Apply(context.Background(), []byte(def))
		var ee *errs.Error
		if !errors.As(err, &ee) || !strings.Contains(fmt.Sprint(ee.Fields), "source.incremental.field") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if _, _, err := e.Apply(context.Background(), []byte(strings.Replace(apiDefinition("https://dept.example/api", ""), "{field: fddbr}", "{field: .fddbr}", 1))); err == nil ||
		!strings.Contains(err.Error(), "mapping.data.legal_representative.field") {
		t.Errorf("a mapping path with an empty part: %v", err)
	}
}

// TestPushedRunsAreMarked: the history tells pushed batches from pulls.
func TestPushedRunsAreMarked(t *testing.T) {
	t.Parallel()
	_, e := setup(t)
	ctx := context.Background()
	api := &fixedAPI{body: `{"items":[]}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	if _, _, err := e.Apply(ctx, []byte(apiDefinition(srv.URL, ""))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(ctx, "dept-api", nil); err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	_ = json.Unmarshal([]byte(apiRecord(1, `"杭州第一餐饮有限公司"`, `"延安路1号"`, `""`)), &f)
	pushed, err := e.Push(ctx, "dept-api", []connectors.Record{{Fields: f}})
	if err != nil || !pushed.Pushed {
		t.Fatalf("push: %+v %v", pushed, err)
	}
	runs, err := e.Store.ListRuns(ctx, "dept-api", 10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	if !runs[0].Pushed || runs[1].Pushed {
		t.Fatalf("pushed = %v, %v; want the push marked and the pull not", runs[0].Pushed, runs[1].Pushed)
	}
}
