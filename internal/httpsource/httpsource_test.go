package httpsource_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/httpsource"
)

// department is a stand-in for a department's licence API: 25 records,
// several sharing one change time across page boundaries, and faults
// injected on demand.
type department struct {
	mu      sync.Mutex
	records []map[string]any
	faults  []string // consumed one per request: "500", "429", "slow", "truncated", "html"
	seen    []string // query strings
	auth    func(r *http.Request) bool
}

func newDepartment() *department {
	d := &department{}
	for i := 1; i <= 25; i++ {
		d.records = append(d.records, map[string]any{"id": i, "name": fmt.Sprint("licence ", i),
			"updated_at": fmt.Sprintf("2026-01-01T00:00:%02dZ", i/4)}) // four records share each second
	}
	return d
}

func (d *department) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.seen = append(d.seen, r.URL.RawQuery)
	fault := ""
	if len(d.faults) > 0 {
		fault, d.faults = d.faults[0], d.faults[1:]
	}
	d.mu.Unlock()
	if d.auth != nil && !d.auth(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch fault {
	case "500":
		w.WriteHeader(500)
		return
	case "429":
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(429)
		return
	case "slow":
		time.Sleep(2 * time.Second)
	case "html":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>登录</body></html>")
		return
	}
	q := r.URL.Query()
	var list []map[string]any
	for _, rec := range d.records {
		if since := q.Get("updated_since"); since == "" || rec["updated_at"].(string) >= since {
			list = append(list, rec)
		}
	}
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size == 0 {
		size = len(list)
	}
	start := 0
	switch {
	case q.Get("page") != "":
		p, _ := strconv.Atoi(q.Get("page"))
		start = (p - 1) * size
	case q.Get("offset") != "":
		start, _ = strconv.Atoi(q.Get("offset"))
	case q.Get("cursor") != "":
		start, _ = strconv.Atoi(strings.TrimPrefix(q.Get("cursor"), "c"))
	}
	end := min(start+size, len(list))
	start = min(start, end)
	body := map[string]any{"data": map[string]any{"items": list[start:end]}}
	if end < len(list) {
		body["next_cursor"] = fmt.Sprint("c", end)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, _ := json.Marshal(body)
	if fault == "truncated" {
		b = b[:len(b)/2]
	}
	w.Write(b)
}

func open(t *testing.T, settings string) connectors.Source {
	t.Helper()
	src, err := httpsource.Kind{}.Open(context.Background(), json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// drain reads the whole source from cursor and returns the ids and the last cursor.
func drain(t *testing.T, src connectors.Source, cursor string, limit int) ([]int, string) {
	t.Helper()
	var ids []int
	for i := 0; i < 100; i++ {
		b, err := src.Fetch(context.Background(), cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Records {
			n, _ := r.Fields["id"].(json.Number).Int64()
			ids = append(ids, int(n))
		}
		cursor = b.Cursor
		if !b.More {
			return ids, cursor
		}
	}
	t.Fatal("source never ended")
	return nil, ""
}

func TestPaginationStyles(t *testing.T) {
	t.Parallel()
	d := newDepartment()
	srv := httptest.NewServer(d)
	defer srv.Close()
	for _, style := range []string{"page", "offset", "cursor"} {
		src := open(t, fmt.Sprintf(`{"url": %q, "records": "data.items", "pagination": {"style": %q, "next_cursor": "next_cursor"}, "retries": 0}`, srv.URL, style))
		ids, _ := drain(t, src, "", 10)
		if len(ids) != 25 || ids[0] != 1 || ids[24] != 25 {
			t.Fatalf("%s pagination read %v", style, ids)
		}
	}
}

// TestIncremental: the next pass asks only for changes since the latest
// seen; records sharing that instant come again (found unchanged by the
// engine), none is skipped, and a pass with nothing new is one request.
func TestIncremental(t *testing.T) {
	t.Parallel()
	d := newDepartment()
	srv := httptest.NewServer(d)
	defer srv.Close()
	src := open(t, fmt.Sprintf(`{"url": %q, "records": "data.items", "pagination": {"style": "page"},
		"incremental": {"param": "updated_since", "field": "updated_at"}}`, srv.URL))
	ids, cursor := drain(t, src, "", 10)
	if len(ids) != 25 {
		t.Fatalf("first pass: %d records", len(ids))
	}
	var c struct{ Since string }
	_ = json.Unmarshal([]byte(cursor), &c)
	if c.Since != "2026-01-01T00:00:06Z" {
		t.Fatalf("since = %q", c.Since)
	}
	// A change at the same instant as the latest, and a new record.
	d.mu.Lock()
	d.records[23]["name"] = "changed"
	d.records = append(d.records, map[string]any{"id": 26, "name": "new", "updated_at": "2026-01-01T00:00:07Z"})
	d.seen = nil
	d.mu.Unlock()
	ids, cursor = drain(t, src, cursor, 10)
	if fmt.Sprint(ids) != "[24 25 26]" {
		t.Fatalf("second pass read %v, want the records at or after the latest change", ids)
	}
	d.mu.Lock()
	d.seen = nil
	d.mu.Unlock()
	ids, _ = drain(t, src, cursor, 10)
	if len(ids) != 1 || len(d.seen) != 1 || !strings.Contains(d.seen[0], "updated_since=2026-01-01T00%3A00%3A07Z") {
		t.Fatalf("idle pass: %v in %d requests (%v)", ids, len(d.seen), d.seen)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	d := newDepartment()
	srv := httptest.NewServer(d)
	defer srv.Close()
	settings := fmt.Sprintf(`{"url": %q, "records": "data.items", "timeout": "1s", "retries": 4}`, srv.URL)
	src := open(t, settings)
	// 500, 429 with Retry-After, a timeout and truncated JSON are retried.
	d.faults = []string{"500", "429", "slow", "truncated"}
	start := time.Now()
	b, err := src.Fetch(context.Background(), "", 100)
	if err != nil || len(b.Records) != 25 {
		t.Fatalf("after transient faults: %v, %d records", err, len(b.Records))
	}
	if time.Since(start) < time.Second {
		t.Fatal("Retry-After was not honoured")
	}
	// HTML instead of JSON fails at once, clearly.
	d.faults = []string{"html"}
	if _, err := src.Fetch(context.Background(), "", 100); err == nil || !strings.Contains(err.Error(), "text/html") {
		t.Fatalf("HTML answer: %v", err)
	}
	// Faults that outlast the retries fail the fetch.
	d.faults = []string{"500", "500", "500", "500", "500"}
	if _, err := src.Fetch(context.Background(), "", 100); err == nil || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("persistent 500: %v", err)
	}
}

func TestAuth(t *testing.T) {
	d := newDepartment()
	srv := httptest.NewServer(d)
	defer srv.Close()
	t.Setenv("DEPT_TOKEN", "s3cret-token")
	t.Setenv("DEPT_USER", "certhub")
	t.Setenv("DEPT_PASS", "pa55")
	t.Setenv("DEPT_HMAC", "hmac-key")
	tests := []struct {
		name, auth string
		check      func(r *http.Request) bool
	}{
		{"bearer", `{"type": "bearer", "token_env": "DEPT_TOKEN"}`, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer s3cret-token" }},
		{"basic", `{"type": "basic", "username_env": "DEPT_USER", "password_env": "DEPT_PASS"}`, func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "certhub" && p == "pa55"
		}},
		{"hmac", `{"type": "hmac", "secret_env": "DEPT_HMAC", "key_id": "certhub-1"}`, func(r *http.Request) bool {
			m := hmac.New(sha256.New, []byte("hmac-key"))
			fmt.Fprintf(m, "%s\n%s\n%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Timestamp"))
			return r.Header.Get("X-Key-Id") == "certhub-1" && hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.Header.Get("X-Signature")))
		}},
	}
	for _, tt := range tests {
		d.auth = tt.check
		src := open(t, fmt.Sprintf(`{"url": %q, "records": "data.items", "auth": %s, "retries": 0}`, srv.URL, tt.auth))
		if _, err := src.Fetch(context.Background(), "", 10); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	d.auth = tests[0].check
	src := open(t, fmt.Sprintf(`{"url": %q, "records": "data.items", "retries": 0}`, srv.URL))
	if _, err := src.Fetch(context.Background(), "", 10); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without credentials: %v", err)
	}
}

func TestSettingsValidation(t *testing.T) {
	t.Parallel()
	problems := httpsource.Kind{}.Validate(json.RawMessage(`{"url": "ftp://x", "pagination": {"style": "cursor"}, "auth": {"type": "bearer"}, "incremental": {"param": "since"}, "retries": 99}`))
	got := map[string]bool{}
	for _, p := range problems {
		got[p.Field] = true
	}
	for _, want := range []string{"url", "pagination.next_cursor", "auth.token_env", "incremental", "retries"} {
		if !got[want] {
			t.Errorf("no problem at %s: %v", want, problems)
		}
	}
}

// changes is a department whose records carry their change time in a
// nested field, in the encoding under test, and which filters on the
// since parameter as times (as the department's own system would).
type changes struct {
	mu      sync.Mutex
	records []map[string]any
	at      []time.Time // each record's change time
	seen    []string
}

func (d *changes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen = append(d.seen, r.URL.Query().Get("since"))
	list := []map[string]any{}
	since, err := connectors.ChangeTime(r.URL.Query().Get("since"), shanghai)
	for i, rec := range d.records {
		if r.URL.Query().Get("since") == "" || (err == nil && !d.at[i].Before(since)) {
			list = append(list, rec)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"items": list})
}

var shanghai = time.FixedZone("CST", 8*3600)

// TestIncrementalChangeTimes: the cursor follows a nested field (a path,
// like the mapping's) in the encodings departments use, compares them as
// times, and asks the next pass for changes since the latest one, sent
// back as the source wrote it. Before, such a cursor never moved and every
// run read everything again.
func TestIncrementalChangeTimes(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, shanghai)
	tests := []struct {
		name   string
		encode func(time.Time) any
	}{
		{"rfc3339 zoned", func(t time.Time) any { return t.Format(time.RFC3339) }},
		{"rfc3339 mixed zones", func(t time.Time) any { // text order differs from time order
			if t.Second()%2 == 0 {
				return t.UTC().Format(time.RFC3339)
			}
			return t.Format(time.RFC3339)
		}},
		{"zoneless, hub's zone", func(t time.Time) any { return t.Format("2006-01-02 15:04:05") }},
		{"zoneless with T", func(t time.Time) any { return t.Format("2006-01-02T15:04:05") }},
		{"epoch seconds number", func(t time.Time) any { return json.Number(strconv.FormatInt(t.Unix(), 10)) }},
		{"epoch milliseconds number", func(t time.Time) any { return json.Number(strconv.FormatInt(t.UnixMilli(), 10)) }},
		{"epoch milliseconds string", func(t time.Time) any { return strconv.FormatInt(t.UnixMilli(), 10) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &changes{}
			for i := 0; i < 6; i++ {
				at := base.Add(time.Duration(i*7%6) * time.Second) // not in change order
				d.records = append(d.records, map[string]any{"id": i, "meta": map[string]any{"updated": tt.encode(at)}})
				d.at = append(d.at, at)
			}
			srv := httptest.NewServer(d)
			defer srv.Close()
			src, err := httpsource.Kind{Location: shanghai}.Open(context.Background(), json.RawMessage(fmt.Sprintf(
				`{"url": %q, "records": "items", "incremental": {"param": "since", "field": "meta.updated"}, "retries": 0}`, srv.URL)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := src.Fetch(context.Background(), "", 100)
			if err != nil {
				t.Fatal(err)
			}
			latest := base.Add(5 * time.Second)
			if len(b.Records) != 6 || !b.Latest.Equal(latest) {
				t.Fatalf("first pass: %d records, latest %v; want 6 and %v", len(b.Records), b.Latest, latest)
			}
			// The next pass asks for changes since the latest, as the source wrote it.
			b, err = src.Fetch(context.Background(), b.Cursor, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprint(tt.encode(latest))
			if got := d.seen[len(d.seen)-1]; got != want {
				t.Fatalf("second pass asked since=%q, want %q (cursor %s)", got, want, b.Cursor)
			}
			if len(b.Records) != 1 {
				t.Fatalf("second pass read %d records, want only the latest", len(b.Records))
			}
		})
	}
}

// TestUnreadableChangeTimeFailsTheFetch: a record whose change time is
// missing or not a time fails the fetch, naming the record and the value,
// instead of leaving the cursor behind.
func TestUnreadableChangeTimeFailsTheFetch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		value any
		want  []string
	}{
		{"not a time", "yesterday", []string{"record 2", "meta.updated", `"yesterday"`}},
		{"absent", nil, []string{"record 2", "has no change time meta.updated"}},
		{"eleven digits", json.Number("17000000000"), []string{"record 2", "17000000000", "11 digits"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &changes{}
			second := map[string]any{"id": 2}
			if tt.value != nil {
				second["meta"] = map[string]any{"updated": tt.value}
			}
			d.records = []map[string]any{{"id": 1, "meta": map[string]any{"updated": "2026-03-01T09:00:00+08:00"}}, second}
			d.at = []time.Time{{}, {}}
			srv := httptest.NewServer(d)
			defer srv.Close()
			src := open(t, fmt.Sprintf(`{"url": %q, "records": "items", "incremental": {"param": "since", "field": "meta.updated"}, "retries": 0}`, srv.URL))
			_, err := src.Fetch(context.Background(), "", 100)
			if err == nil {
				t.Fatal("a record without a readable change time was read on silently")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var ce *connectors.CursorError
			if !errors.As(err, &ce) || ce.Record.Fields["id"] == nil {
				t.Errorf("error is not a CursorError carrying the record: %#v", err)
			}
		})
	}
}

// TestErrorNamesURLOnce: a failed fetch names the URL once, however it
// failed and however often it was tried.
func TestErrorNamesURLOnce(t *testing.T) {
	t.Parallel()
	d := newDepartment()
	srv := httptest.NewServer(d)
	url := srv.URL
	for _, tt := range []struct {
		name   string
		faults []string
		close  bool
	}{
		{"server error after retries", []string{"500", "500"}, false},
		{"not json", []string{"html"}, false},
		{"connection refused after retries", nil, true},
	} {
		if tt.close {
			srv.Close()
		}
		d.mu.Lock()
		d.faults = tt.faults
		d.mu.Unlock()
		src := open(t, fmt.Sprintf(`{"url": %q, "records": "data.items", "retries": 1}`, url))
		_, err := src.Fetch(context.Background(), "", 10)
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		if n := strings.Count(err.Error(), url); n != 1 {
			t.Errorf("%s: the error names the URL %d times: %v", tt.name, n, err)
		}
	}
	srv.Close()
}

func TestIncrementalFieldPath(t *testing.T) {
	t.Parallel()
	problems := httpsource.Kind{}.Validate(json.RawMessage(`{"url": "https://x.example", "incremental": {"param": "since", "field": "meta..updated"}}`))
	if len(problems) != 1 || problems[0].Field != "incremental.field" {
		t.Fatalf("problems = %v", problems)
	}
}
