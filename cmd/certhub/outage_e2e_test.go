package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDependencyOutages stops PostgreSQL and then the S3 server under a
// steady issuing load. While each is down the hub answers 503 with
// Retry-After (never 500) and /readyz names the dependency; when it is back
// the hub recovers without a restart, and every request retried with its
// Idempotency-Key ends as exactly one certificate: none missing, none twice.
// The test runs its own PostgreSQL cluster and MinIO, so stopping them
// disturbs no other test.
func TestDependencyOutages(t *testing.T) {
	t.Parallel()
	pg := startOwnPostgres(t)
	s3 := startOwnMinIO(t)
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + pg.url(), "CERTHUB_S3_ENDPOINT=" + s3.addr,
		"CERTHUB_S3_ACCESS_KEY=" + s3.user, "CERTHUB_S3_SECRET_KEY=" + s3.pass}
	p := start(t, env, "--data", t.TempDir())
	issuer, _ := setup(t, p)

	var (
		next     atomic.Int64 // the last request number taken; each taken is finished
		stop     atomic.Bool
		issued   atomic.Int64
		seen     sync.Map // status -> count
		ids      sync.Map // idempotency key -> certificate id
		noRetry  atomic.Int64
		failures = make(chan string, 100)
	)
	defer stop.Store(true) // a failed check ends the load too
	fail := func(msg string) {
		select {
		case failures <- msg:
		default: // enough is already reported
		}
	}
	count := func(st int) {
		v, _ := seen.LoadOrStore(st, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	worker := func() {
		for !stop.Load() {
			n := next.Add(1)
			key := fmt.Sprintf("outage-%03d", n)
			body := permit(fmt.Sprintf("JY1330102%07d", n))
			deadline := time.Now().Add(2 * time.Minute)
			for {
				a := p.doWith(client, "POST", "/api/v1/certificates", issuer, body, "Idempotency-Key", key)
				count(a.status)
				if a.status == 201 || a.status == 200 {
					id, _ := a.jsonOK()["id"].(string)
					if prev, loaded := ids.LoadOrStore(key, id); loaded && prev != id {
						fail(fmt.Sprintf("%s answered %s, then %s", key, prev, id))
					}
					issued.Add(1)
					time.Sleep(10 * time.Millisecond) // a steady load, not a flood
					break
				}
				if a.status != 503 {
					fail(fmt.Sprintf("%s: %d %s", key, a.status, a.body))
					break
				}
				if a.header.Get("Retry-After") == "" {
					noRetry.Add(1)
				}
				if time.Now().After(deadline) || stop.Load() && a.status == 0 {
					fail(key + ": still 503 after two minutes")
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(worker)
	}
	waitIssued := func(n int64) {
		t.Helper()
		for end := time.Now().Add(time.Minute); issued.Load() < n; {
			if time.Now().After(end) {
				t.Fatalf("only %d certificates issued, waiting for %d", issued.Load(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	readyz := func(wantStatus int, wantDB, wantS3 string) {
		t.Helper()
		var last answer
		for end := time.Now().Add(45 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			last = p.doWith(client, "GET", "/readyz", "", nil)
			m := last.jsonOK()
			if last.status == wantStatus && m["database"] == wantDB && m["object_store"] == wantS3 {
				if wantStatus == 503 && last.header.Get("Retry-After") == "" {
					t.Fatalf("/readyz 503 without Retry-After")
				}
				return
			}
		}
		t.Fatalf("/readyz = %d %s, want %d database=%s object_store=%s", last.status, last.body, wantStatus, wantDB, wantS3)
	}
	unavailable := func() int64 {
		v, ok := seen.Load(503)
		if !ok {
			return 0
		}
		return v.(*atomic.Int64).Load()
	}

	// A 503 answered to the load while a dependency is down.
	waitUnavailable := func(before int64) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); unavailable() == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no request was answered 503 during the outage (issued %d)", issued.Load())
			}
		}
	}

	waitIssued(10)
	pg.stop(t)
	readyz(503, "unreachable", "ok")
	waitUnavailable(unavailable())
	pgOutage := unavailable()
	time.Sleep(time.Second)
	pg.start(t)
	readyz(200, "ok", "ok")
	waitIssued(issued.Load() + 10)

	s3.stop(t)
	readyz(503, "ok", "unreachable")
	waitUnavailable(unavailable())
	time.Sleep(time.Second)
	s3.start(t)
	readyz(200, "ok", "ok")
	waitIssued(issued.Load() + 10)
	stop.Store(true)
	wg.Wait()
	total := int(next.Load())
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.FailNow()
	}
	if pgOutage == 0 || unavailable() == pgOutage {
		t.Fatalf("503s during the PostgreSQL outage: %d, during the S3 outage: %d; want both", pgOutage, unavailable()-pgOutage)
	}
	if noRetry.Load() > 0 {
		t.Fatalf("%d answers 503 without Retry-After", noRetry.Load())
	}

	// Exactly one certificate per request, each with a readable document.
	var certs []any
	for page := ""; ; {
		list := p.must(200, "GET", "/api/v1/certificates?holder_id="+company+"&limit=500&page_token="+page, admin, nil)
		got, _ := list["certificates"].([]any)
		certs = append(certs, got...)
		if page, _ = list["next_page_token"].(string); page == "" {
			break
		}
	}
	byPermit := map[string]int{}
	for _, c := range certs {
		m := c.(map[string]any)
		no := m["data"].(map[string]any)["permit_no"].(string)
		byPermit[no]++
		if a := p.do("GET", "/api/v1/certificates/"+m["id"].(string)+"/document", admin, nil); a.status != 200 {
			t.Errorf("document of %s: %d %s", m["id"], a.status, a.body)
		}
	}
	for n := 1; n <= total; n++ {
		if c := byPermit[fmt.Sprintf("JY1330102%07d", n)]; c != 1 {
			t.Errorf("request %d left %d certificates, want exactly 1", n, c)
		}
	}
	if len(certs) != total {
		t.Errorf("%d certificates, want %d", len(certs), total)
	}
	statuses := map[int]int64{}
	seen.Range(func(k, v any) bool { statuses[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("answers by status: %v", statuses)
}

// doWith is do with a client of the caller's (with a timeout).
func (p *proc) doWith(c *http.Client, method, path, token string, body any, headers ...string) answer {
	raw, _ := json.Marshal(body)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{status: 0, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// jsonOK decodes a JSON answer, or returns an empty map.
func (a answer) jsonOK() map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(a.body, &m)
	return m
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ownPostgres is a PostgreSQL cluster of one test's own.
type ownPostgres struct {
	dir, bin string
	port     int
	asUser   []string // runuser prefix when running as root
}

func (pg *ownPostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/certhub?sslmode=disable", pg.port)
}

func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		need(t, "PostgreSQL's server binaries (Debian package postgresql)")
	}
	pg := &ownPostgres{bin: filepath.Dir(matches[len(matches)-1]), port: freePort(t)}
	// Not t.TempDir: its parents are private to root, and the server runs
	// as the postgres user.
	dir, err := os.MkdirTemp("", "certhub-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	if os.Getuid() == 0 {
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = pg.ctl("stop", "-m", "immediate").Run()
		os.RemoveAll(dir)
	})
	initdb := pg.cmd(filepath.Join(pg.bin, "initdb"), "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = off\nshared_buffers = 32MB\nmax_connections = 60\n", pg.port, pg.data())
	f, err := os.OpenFile(filepath.Join(pg.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(conf)
	f.Close()
	pg.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE certhub"); err != nil {
		t.Fatal(err)
	}
	return pg
}

func (pg *ownPostgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *ownPostgres) cmd(name string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, pg.asUser...), name), args...)
	c := exec.Command(all[0], all[1:]...)
	c.Dir = "/"
	return c
}

func (pg *ownPostgres) ctl(args ...string) *exec.Cmd {
	return pg.cmd(filepath.Join(pg.bin, "pg_ctl"), append([]string{"-D", pg.data(), "-l", filepath.Join(pg.dir, "log"), "-w", "-t", "60"}, args...)...)
}

func (pg *ownPostgres) start(t *testing.T) {
	t.Helper()
	if out, err := pg.ctl("start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func (pg *ownPostgres) stop(t *testing.T) {
	t.Helper()
	if out, err := pg.ctl("stop", "-m", "fast").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// ownMinIO is a MinIO server of one test's own.
type ownMinIO struct {
	bin, dir, addr, user, pass string
	cmd                        *exec.Cmd
}

func startOwnMinIO(t *testing.T) *ownMinIO {
	t.Helper()
	bin, err := exec.LookPath("minio")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(string(trimNL(gopath)), "bin", "minio")
		if _, err := os.Stat(bin); err != nil {
			need(t, "MinIO (built by .ci/run into $(go env GOPATH)/bin)")
		}
	}
	m := &ownMinIO{bin: bin, dir: t.TempDir(), addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), user: "outage-test", pass: "outage-test-secret"}
	m.start(t)
	t.Cleanup(func() {
		if m.cmd != nil {
			_ = m.cmd.Process.Kill()
			_ = m.cmd.Wait()
		}
	})
	return m
}

func (m *ownMinIO) start(t *testing.T) {
	t.Helper()
	m.cmd = exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass, "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + m.addr + "/minio/health/live"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatal("MinIO did not start")
}

func (m *ownMinIO) stop(t *testing.T) {
	t.Helper()
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// need skips when a server this test runs itself is not installed, and
// fails in CI, where .ci/run installs it.
func need(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI", what)
	}
	t.Skipf("%s is not installed; bash .ci/run installs it", what)
}
