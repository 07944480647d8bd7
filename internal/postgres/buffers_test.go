package postgres

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/storetest"
	"github.com/certhub/certhub/internal/testenv"
)

// TestLookupSet: the hub measures what its lookups read (the certificates
// table, its holder index and primary key) against PostgreSQL's
// shared_buffers, and warns when it does not fit: once, and again only
// after it fitted in between.
func TestLookupSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	empty, buffers, err := LookupSet(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	if err := s.DB().QueryRow(ctx, `SELECT pg_size_bytes(current_setting('shared_buffers'))`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if buffers != want || buffers <= 0 {
		t.Fatalf("shared_buffers: %d bytes, want %d", buffers, want)
	}
	storetest.SeedCatalog(t, s)
	for i := range 200 {
		if err := s.InsertCertificate(ctx, storetest.NewCert(fmt.Sprintf("%06d", i), 1, fmt.Sprintf("%064x", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	set, _, err := LookupSet(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var table, holder, pkey int64
	err = s.DB().QueryRow(ctx, `SELECT pg_relation_size('certificates'), pg_relation_size('certificates_holder_hash'),
		pg_relation_size('certificates_pkey')`).Scan(&table, &holder, &pkey)
	if err != nil {
		t.Fatal(err)
	}
	if set != table+holder+pkey || set <= empty || table == 0 || holder == 0 || pkey == 0 {
		t.Fatalf("lookup set %d bytes (empty %d), want table %d + holder index %d + primary key %d", set, empty, table, holder, pkey)
	}

	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	var w BufferWatch
	w.Check(ctx, s, log)
	if out.Len() != 0 {
		t.Fatalf("a store that fits in shared_buffers was warned about:\n%s", out.String())
	}
	warnings := func() int { return strings.Count(out.String(), "level=WARN") }
	w.note(log, 11<<30, 6<<30)
	if got := out.String(); warnings() != 1 || !strings.Contains(got, "lookup_set_bytes=11811160064") ||
		!strings.Contains(got, "shared_buffers_bytes=6442450944") || !strings.Contains(got, "A store larger than memory") {
		t.Fatalf("a store larger than shared_buffers: %q", got)
	}
	w.note(log, 12<<30, 6<<30) // still too large: said already
	w.note(log, 5<<30, 6<<30)  // fits again (buffers raised)
	w.note(log, 7<<30, 6<<30)  // and grows past them: said again
	if n := warnings(); n != 2 {
		t.Fatalf("%d warnings, want one per time the set stopped fitting (2):\n%s", n, out.String())
	}
}
