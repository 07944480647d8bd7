package sqlite

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/sqlstore"
)

// TestLedgerTimeMigration: migration 0029 fills the new at column of the
// entries already written from their bodies, in the fixed-width UTC form
// the store compares as text (sqlstore.TimeLayout), whatever the zone the
// body's time was written in.
func TestLedgerTimeMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := open(filepath.Join(t.TempDir(), "certhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, d.w, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 28); err != nil {
		t.Fatal(err)
	}
	ats := []string{"2026-01-05T10:00:00.123456Z", "2026-02-01T07:00:00+08:00", "2026-03-01T00:00:00Z"}
	prev := ""
	for i, s := range ats {
		at, _ := time.Parse(time.RFC3339Nano, s)
		body := exchange.Body(exchange.AuditEntry{Seq: int64(i + 1), At: at, Actor: "a", Action: "lookup", Outcome: "ok"})
		prev = exchange.ChainHash(prev, body)
		if _, err := d.w.ExecContext(ctx, `INSERT INTO audit_log (seq, body, hash) VALUES (?, ?, ?)`, i+1, string(body), prev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"2026-01-05T10:00:00.123000Z", "2026-01-31T23:00:00.000000Z", "2026-03-01T00:00:00.000000Z"} {
		var got string
		if err := d.w.QueryRowContext(ctx, `SELECT at FROM audit_log WHERE seq = ?`, i+1).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want || len(got) != len(sqlstore.TimeLayout) {
			t.Fatalf("entry %d: at = %q, want %q", i+1, got, want)
		}
	}
	if _, err := p.DownTo(ctx, 28); err != nil {
		t.Fatal(err)
	}
}
