// Package testenv gives tests the real servers .ci/services starts: a fresh
// PostgreSQL schema per test and S3 credentials. Without a server a test
// skips with a message saying how to start one; with CI=true it fails, so CI
// can never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // for MySQLDSN
	"github.com/jackc/pgx/v5"
)

const hint = `start the test servers with: eval "$(bash .ci/services start)"`

// absent skips, or fails in CI.
func absent(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI and is not configured (%s)", what, hint)
	}
	t.Skipf("%s not configured; %s", what, hint)
}

// RandomName returns prefix followed by 12 random hex characters.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// PostgresURL returns a URL of the test database whose search_path is a new
// empty schema, dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CERTHUB_TEST_DATABASE_URL")
	if base == "" {
		absent(t, "PostgreSQL (CERTHUB_TEST_DATABASE_URL)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at CERTHUB_TEST_DATABASE_URL: %v", err)
		}
		t.Skipf("PostgreSQL at CERTHUB_TEST_DATABASE_URL unreachable (%v); %s", err, hint)
	}
	defer conn.Close(ctx)
	schema := RandomName("t_")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresReplicaURLs gives a fresh schema, as PostgresURL does, and the
// URLs to reach it on the primary and on its hot standby
// (CERTHUB_TEST_DATABASE_READ_URL, started by .ci/services). The primary's
// sessions commit with synchronous_commit=remote_apply, so whatever they
// wrote is on the standby when the commit returns (read-your-writes through
// the replica); a test that wants the standby behind writes with a session
// of its own.
func PostgresReplicaURLs(t testing.TB) (primary, replica string) {
	t.Helper()
	read := os.Getenv("CERTHUB_TEST_DATABASE_READ_URL")
	if read == "" {
		absent(t, "a PostgreSQL hot standby (CERTHUB_TEST_DATABASE_READ_URL)")
	}
	primary = PostgresURL(t)
	p, err := url.Parse(primary)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(read)
	if err != nil {
		t.Fatal(err)
	}
	pq := p.Query()
	rq := r.Query()
	rq.Set("search_path", pq.Get("search_path"))
	r.RawQuery = rq.Encode()
	pq.Set("synchronous_commit", "remote_apply")
	p.RawQuery = pq.Encode()
	return p.String(), r.String()
}

// S3 is a real S3 server's address and credentials.
type S3 struct {
	Endpoint, AccessKey, SecretKey string
}

// S3Server returns the test S3 server.
func S3Server(t testing.TB) S3 {
	t.Helper()
	s := S3{Endpoint: os.Getenv("CERTHUB_TEST_S3_ENDPOINT"), AccessKey: os.Getenv("CERTHUB_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("CERTHUB_TEST_S3_SECRET_KEY")}
	if s.Endpoint == "" {
		absent(t, "an S3 server (CERTHUB_TEST_S3_ENDPOINT)")
	}
	return s
}

// MySQLDSN returns a DSN of a new empty MariaDB/MySQL database, dropped
// when the test ends.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CERTHUB_TEST_MYSQL_DSN")
	if base == "" {
		absent(t, "MariaDB (CERTHUB_TEST_MYSQL_DSN)")
	}
	db, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := RandomName("t_")
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB at CERTHUB_TEST_MYSQL_DSN: %v", err)
		}
		t.Skipf("MariaDB unreachable (%v); %s", err, hint)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("mysql", base); err == nil {
			_, _ = db.Exec("DROP DATABASE " + name)
			db.Close()
		}
	})
	return strings.Replace(base, "/certhub_test?", "/"+name+"?", 1)
}

// Tool returns the path of an external program a test needs (an independent
// verifier such as openssl or node). Without it the test skips locally and
// fails in CI; install names the Debian package or the way to get it.
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name, "not installed ("+install+")")
	}
	return p
}

// Unavailable skips the test locally, or fails it in CI, for a dependency
// that is installed but cannot be used here (a package registry out of
// reach, say); why says what failed.
func Unavailable(t testing.TB, what, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI: %s", what, why)
	}
	t.Skipf("%s unavailable: %s", what, why)
}

// NPM installs npm packages (name@version) into a new temporary directory
// for an independent verifier written in JavaScript, and returns the node
// binary and that directory (scripts placed there import the packages).
// Without node, npm or the registry it skips locally and fails in CI.
func NPM(t testing.TB, packages ...string) (node, dir string) {
	t.Helper()
	node = Tool(t, "node", "Debian package nodejs")
	npm := Tool(t, "npm", "Debian package npm")
	dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir}, packages...)
	if out, err := exec.CommandContext(ctx, npm, args...).CombinedOutput(); err != nil {
		Unavailable(t, "npm "+strings.Join(packages, " "), err.Error()+": "+string(out))
	}
	return node, dir
}
