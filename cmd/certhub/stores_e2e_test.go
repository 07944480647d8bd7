package main_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/certhub/certhub/internal/testenv"
)

// embeddedStore is a fresh embedded-default hub for the built binary: the
// environment and arguments a certhub process needs, and its SQLite
// database, for tests that look at or edit the rows behind the hub.
func embeddedStore(t *testing.T) (env, args []string, db *sql.DB) {
	t.Helper()
	data := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "certhub.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}, []string{"--data", data}, db
}

// postgresStore is the same on a fresh schema of the test PostgreSQL
// server, documents in a directory.
func postgresStore(t *testing.T) (env, args []string, db *sql.DB) {
	t.Helper()
	url := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + url, "CERTHUB_S3_ENDPOINT="}, []string{"--data", t.TempDir()}, db
}
