package postgres

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/testenv"
)

// TestLedgerPartitionMigration: migration 0029 moves a ledger's entries
// into month partitions (one per month they are in, the holder column
// still derived from the body) and its down migration puts them back into
// one table.
func TestLedgerPartitionMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sub, _ := fs.Sub(migrations, "migrations")
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 28); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i, e := range []exchange.AuditEntry{
		{Seq: 1, At: mustTime(t, "2026-01-05T10:00:00.123456Z"), Actor: "a", Action: "lookup", Holder: "h1", Outcome: "ok"},
		{Seq: 2, At: mustTime(t, "2026-01-31T23:59:59.999999Z"), Actor: "a", Action: "lookup", Outcome: "ok"},
		{Seq: 3, At: mustTime(t, "2026-02-01T07:00:00+08:00"), Actor: "a", Action: "lookup", Holder: "h1", Outcome: "ok"}, // January 31, 23:00 UTC
		{Seq: 4, At: mustTime(t, "2026-03-01T00:00:00Z"), Actor: "a", Action: "lookup", Outcome: "ok"},
	} {
		body := exchange.Body(e)
		prev = exchange.ChainHash(prev, body)
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (seq, body, hash) VALUES ($1, $2, $3)`, i+1, string(body), prev); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	up := func() {
		t.Helper()
		if _, err := p.UpTo(ctx, 29); err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string]int{
			`SELECT count(*) FROM audit_log_y2026m01`:                                           3,
			`SELECT count(*) FROM audit_log_y2026m03`:                                           1,
			`SELECT count(*) FROM audit_log_default`:                                            0,
			`SELECT count(*) FROM audit_log WHERE holder = 'h1'`:                                2,
			`SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'audit_log'::regclass`: 1,
		} {
			if n := count(q); n != want {
				t.Fatalf("after 0029: %s = %d, want %d", q, n, want)
			}
		}
		if n := count(`SELECT count(*) FROM pg_class WHERE relname = 'audit_log_y2026m02' AND relnamespace = current_schema()::regnamespace`); n != 0 {
			t.Fatal("a partition was made for a month without entries")
		}
	}
	up()
	if _, err := p.DownTo(ctx, 28); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM audit_log`:                     4,
		`SELECT count(*) FROM audit_log WHERE holder = 'h1'`: 2,
		`SELECT count(*) FROM pg_class WHERE relname LIKE 'audit_log_y%' AND relnamespace = current_schema()::regnamespace`: 0,
		`SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'audit_log'::regclass`:                                 0,
	} {
		if n := count(q); n != want {
			t.Fatalf("after 0029 down: %s = %d, want %d", q, n, want)
		}
	}
	up()
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
