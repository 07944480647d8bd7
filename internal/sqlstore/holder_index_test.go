package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/storetest"
	"github.com/certhub/certhub/internal/testenv"
)

// TestHolderAuditByHashedIndex: on PostgreSQL a holder's access history is
// found through the ledger's holder index, which keys entries by a 64-bit
// hash of the holder (migration 0032), and holds exactly that holder's
// entries, newest first. The index must be the one used, in the plan a
// prepared statement gets after its first runs as well: a scan of the
// month's partition would read every entry of the month for each page of
// one holder's history.
func TestHolderAuditByHashedIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPostgres(t)
	const holders, perHolder = 2000, 8
	now := time.Now().UTC().Truncate(time.Microsecond)
	var es []exchange.AuditEntry
	for n := range perHolder {
		for h := range holders {
			es = append(es, exchange.AuditEntry{Actor: "consumer:c1", Action: "lookup", Holder: holder(h), Purpose: "SX-1",
				CaseID: fmt.Sprintf("%d-%d", h, n), Day: now.Format("2006-01-02"), At: now, Outcome: "ok"})
		}
		for i := range 500 { // entries about nobody in between
			es = append(es, exchange.AuditEntry{Actor: "admin", Action: "checkpoint", CaseID: fmt.Sprint(n, "/", i),
				Day: now.Format("2006-01-02"), At: now, Outcome: "ok"})
		}
	}
	if err := s.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	if _, err := db.Exec(ctx, `ANALYZE audit_log`); err != nil {
		t.Fatal(err)
	}
	for _, h := range []int{0, 17, holders - 1} {
		got, err := s.HolderAudit(ctx, holder(h), 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("holder %d: %d entries, want the newest 5", h, len(got))
		}
		for i, e := range got {
			if e.Holder != holder(h) || e.CaseID != fmt.Sprintf("%d-%d", h, perHolder-1-i) {
				t.Fatalf("holder %d: entry %d is case %s of %s, want case %d-%d", h, i, e.CaseID, e.Holder, h, perHolder-1-i)
			}
		}
	}
	if got, err := s.HolderAudit(ctx, holder(holders), 5); err != nil || len(got) != 0 {
		t.Fatalf("a holder without entries: %d entries, %v", len(got), err)
	}

	partition := fmt.Sprintf("audit_log_y%04dm%02d", now.Year(), int(now.Month()))
	for mode, plan := range plans(t, db, sqlstore.HolderAuditQuery(db), `'`+holder(17)+`', 50`) { // hex digits only
		if strings.Contains(plan, "Seq Scan on "+partition) || !strings.Contains(plan, partition+"_hashtextextended_seq_idx") {
			t.Errorf("%s: the history does not use the hashed holder index of %s:\n%s", mode, partition, plan)
		}
	}
}

// TestCertificatesByHashedHolderIndex: on PostgreSQL a lookup by holder
// and type finds certificates through the index on a 64-bit hash of the
// holder key (migration 0033), and gets exactly that holder's certificates
// of that type, in issuance order. The plan a prepared statement gets
// after its first runs must use the index too: without it every lookup
// reads the whole table.
func TestCertificatesByHashedHolderIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPostgres(t)
	storetest.SeedCatalog(t, s)
	const holders, perHolder = 2000, 3
	var cs []*certificates.Certificate
	for n := range perHolder {
		for h := range holders {
			cs = append(cs, storetest.NewCert(fmt.Sprintf("%06d", n*holders+h), 1, holder(h)))
		}
	}
	if err := s.InsertCertificates(ctx, cs); err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	if _, err := db.Exec(ctx, `ANALYZE certificates`); err != nil {
		t.Fatal(err)
	}
	typ := cs[0].Type
	for _, h := range []int{0, 17, holders - 1} {
		got, _, err := s.FindCertificates(ctx, certificates.Query{HolderIndex: holder(h), Type: typ, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != perHolder {
			t.Fatalf("holder %d: %d certificates, want %d", h, len(got), perHolder)
		}
		for n, c := range got {
			if want := fmt.Sprintf("%06d", n*holders+h); c.HolderIndex != holder(h) || c.Serial != want {
				t.Fatalf("holder %d: certificate %d is serial %s of %s, want serial %s", h, n, c.Serial, c.HolderIndex, want)
			}
		}
	}
	for _, q := range []certificates.Query{{HolderIndex: holder(holders), Type: typ}, {HolderIndex: holder(1), Type: typ + "9"}} {
		q.Limit = 10
		if got, _, err := s.FindCertificates(ctx, q); err != nil || len(got) != 0 {
			t.Fatalf("%+v: %d certificates, %v; want none", q, len(got), err)
		}
	}

	query, args := sqlstore.FindCertificatesQuery(db, certificates.Query{HolderIndex: holder(17), Type: typ, Limit: 50})
	var params []string
	for _, a := range args {
		switch a := a.(type) {
		case string:
			params = append(params, "'"+a+"'") // hex digits and the type code only
		default:
			params = append(params, fmt.Sprint(a))
		}
	}
	for mode, plan := range plans(t, db, query, strings.Join(params, ", ")) {
		if strings.Contains(plan, "Seq Scan on certificates") || !strings.Contains(plan, "certificates_holder_hash") {
			t.Errorf("%s: the lookup does not use the hashed holder index:\n%s", mode, plan)
		}
	}
}

// openPostgres opens a fresh PostgreSQL store.
func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// holder is the i-th of the tests' holders, in the shape of a holder index.
func holder(i int) string { return fmt.Sprintf("%064x", i*7919) }

// plans is the plan of query, prepared, for the given parameters, as
// PostgreSQL makes it for one execution and as it makes it once for all
// (the plan a prepared statement switches to after its first runs).
func plans(t *testing.T, db sqlstore.DB, query, params string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	err := db.InTx(ctx, func(q sqlstore.Querier) error {
		if _, err := q.Exec(ctx, `PREPARE planned AS `+query); err != nil {
			return err
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if _, err := q.Exec(ctx, `SET LOCAL plan_cache_mode = `+mode); err != nil {
				return err
			}
			rows, err := q.Query(ctx, `EXPLAIN EXECUTE planned(`+params+`)`)
			if err != nil {
				return err
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					return err
				}
				plan = append(plan, line)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			out[mode] = strings.Join(plan, "\n")
		}
		_, err := q.Exec(ctx, `DEALLOCATE planned`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
