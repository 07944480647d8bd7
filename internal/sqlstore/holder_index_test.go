package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
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
	s, err := postgres.Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const holders, perHolder = 2000, 8
	holder := func(i int) string { return fmt.Sprintf("%064x", i*7919) } // the shape of a holder index
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
	err = db.InTx(ctx, func(q sqlstore.Querier) error {
		if _, err := q.Exec(ctx, `PREPARE history(text, int) AS `+sqlstore.HolderAuditQuery(db)); err != nil {
			return err
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if _, err := q.Exec(ctx, `SET LOCAL plan_cache_mode = `+mode); err != nil {
				return err
			}
			rows, err := q.Query(ctx, `EXPLAIN EXECUTE history('`+holder(17)+`', 50)`) // hex digits only
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
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan on "+partition) || !strings.Contains(text, partition+"_hashtextextended_seq_idx") {
				t.Errorf("%s: the history does not use the hashed holder index of %s:\n%s", mode, partition, text)
			}
		}
		_, err := q.Exec(ctx, `DEALLOCATE history`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
