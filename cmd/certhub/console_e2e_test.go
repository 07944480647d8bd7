package main_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certhub/certhub/internal/testenv"
)

// console runs the binary in dir with only the given CERTHUB_* settings
// (none inherited from the test's environment), stopping it after 30 s.
func console(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTHUB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("certhub %s did not end: it runs where it should refuse\n%s", strings.Join(args, " "), out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

// consoleCommands are commands that act on an existing hub's store.
var consoleCommands = [][]string{
	{"connectors", "list"},
	{"audit", "verify"},
	{"audit", "archive", "--before", "2026-01"},
	{"connectors", "history", "x"},
	{"keys", "list"},
	{"types", "template", "show", "x"},
	{"keys", "csr", "x"},
	{"seals", "ca", "init"},
	{"gen", "--count", "1"},
	{"migrate"},
}

// TestConsoleRefusesWithoutHub: console commands started where there is
// no hub refuse, naming the directory they looked at, and create nothing:
// before, they made a data directory with a new master key, printed an
// empty result and exited 0. init creates a hub, once.
func TestConsoleRefusesWithoutHub(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "certhub-data")
	for _, args := range consoleCommands {
		out, code := console(t, dir, nil, args...)
		if code == 0 || !strings.Contains(out, "no data directory at "+data) || !strings.Contains(out, "certhub init") {
			t.Errorf("certhub %s in an empty directory: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("console commands created %v in %s", got, dir)
	}
	// An existing but empty --data: refused too, and left empty.
	empty := t.TempDir()
	out, code := console(t, dir, []string{"CERTHUB_DATA=" + empty}, "connectors", "list")
	if code == 0 || !strings.Contains(out, empty) || len(entries(t, empty)) != 0 {
		t.Fatalf("empty data directory: exit %d, %v created\n%s", code, entries(t, empty), out)
	}

	// init makes the hub, says where, and refuses a second time.
	out, code = console(t, dir, nil, "init")
	if code != 0 || !strings.Contains(out, data) {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	for _, f := range []string{"certhub.db", "master-key", "admin-token"} {
		if fi, err := os.Stat(filepath.Join(data, f)); err != nil || (f != "certhub.db" && fi.Mode().Perm() != 0o600) {
			t.Fatalf("init did not make %s: %v %v", f, fi, err)
		}
	}
	key, _ := os.ReadFile(filepath.Join(data, "master-key"))
	if out, code := console(t, dir, nil, "init"); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("second init: exit %d\n%s", code, out)
	}
	if out, code := console(t, dir, nil, "connectors", "list"); code != 0 || !strings.Contains(out, "NAME") {
		t.Fatalf("connectors list on the new hub: exit %d\n%s", code, out)
	}
	if out, code := console(t, dir, nil, "audit", "verify"); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("audit verify on the new hub: exit %d\n%s", code, out)
	}

	// A hub whose master key is gone: nothing makes a new one, serve neither.
	if err := os.Rename(filepath.Join(data, "master-key"), filepath.Join(dir, "master-key.bak")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"connectors", "list"}, {"serve", "--addr", "127.0.0.1:0"}} {
		out, code := console(t, dir, nil, args...)
		if code == 0 || !strings.Contains(out, filepath.Join(data, "master-key")) {
			t.Errorf("certhub %s without the master key: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "master-key")); err == nil {
		t.Fatal("a new master key was generated for an existing hub")
	}
	if string(key) == "" {
		t.Fatal("init wrote an empty master key")
	}
}

// TestConsoleRefusesWithoutHubPostgres: with PostgreSQL the hub is the
// database; a console command against one no hub was started on refuses
// and creates no table, and without a master key none is made up.
func TestConsoleRefusesWithoutHubPostgres(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dir, data := t.TempDir(), t.TempDir()
	pg := []string{"CERTHUB_DATABASE_URL=" + url, "CERTHUB_DATA=" + data}
	key := "CERTHUB_MASTER_KEY=" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	for _, env := range [][]string{pg, append(pg, key)} {
		for _, args := range consoleCommands[:2] {
			out, code := console(t, dir, env, args...)
			if code == 0 || !strings.Contains(out, "no hub in the database") || !strings.Contains(out, "127.0.0.1") {
				t.Errorf("certhub %s on an empty database: exit %d\n%s", strings.Join(args, " "), code, out)
			}
		}
	}
	if n := tables(); n != 0 || len(entries(t, data)) != 0 || len(entries(t, dir)) != 0 {
		t.Fatalf("console commands created %d tables, %v, %v", n, entries(t, data), entries(t, dir))
	}

	// init on the database: a master key in the data directory, the tables.
	if out, code := console(t, dir, pg, "init"); code != 0 || !strings.Contains(out, "master-key") {
		t.Fatalf("init: exit %d\n%s", code, out)
	}
	if tables() == 0 {
		t.Fatal("init made no tables")
	}
	if out, code := console(t, dir, pg, "connectors", "list"); code != 0 {
		t.Fatalf("connectors list after init: exit %d\n%s", code, out)
	}
	if out, code := console(t, dir, pg, "init"); code == 0 || !strings.Contains(out, "already exists") {
		t.Fatalf("second init: exit %d\n%s", code, out)
	}
	// Another data directory without the key: refused, by serve too, and no
	// second key appears.
	other := t.TempDir()
	for _, args := range [][]string{{"connectors", "list"}, {"serve", "--addr", "127.0.0.1:0"}} {
		out, code := console(t, dir, []string{"CERTHUB_DATABASE_URL=" + url, "CERTHUB_DATA=" + other}, args...)
		if code == 0 || !strings.Contains(out, "master key") || !strings.Contains(out, "CERTHUB_MASTER_KEY") {
			t.Errorf("certhub %s without the hub's master key: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if got := entries(t, other); len(got) != 0 {
		t.Fatalf("made %v without the hub's master key", got)
	}
}
