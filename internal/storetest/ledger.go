package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// testLedgerHolder: what a holder is shown of the ledger (HolderAudit)
// follows the holder index inside the hashed entry. The holder column it
// searches cannot be written; with its definition changed so that it can,
// clearing it or moving an entry to another holder is reported by Verify
// at that entry, and an entry moved to another holder is not shown to
// them.
func testLedgerHolder(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	master, _ := signing.GenerateMasterKey()
	key, err := signing.NewLedgerKey(master, "certhub.test/ledger")
	must(t, err)
	l := &exchange.Ledger{Store: s, Key: exchange.Keys{Signer: key.Signer, Verifier: key.Verifier}, Origin: "certhub.test/ledger", Now: time.Now}
	alice, bob := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	lookup := func(holder, actorName string) exchange.AuditEntry {
		return exchange.AuditEntry{Actor: "consumer:tok_1", ActorName: actorName, Action: "lookup", Certificates: []string{"cert-1"},
			Holder: holder, Purpose: "食品经营许可", CaseID: "2026-0001"}
	}
	must(t, l.RecordAll(ctx, []exchange.AuditEntry{
		lookup(alice, "受理平台"), // 1
		lookup(bob, "受理平台"),   // 2
		lookup("", "受理平台"),    // 3: about no one holder
		// 4: text in another field that looks like another holder's key.
		lookup(alice, `x","holder":"`+bob+`"`),
		lookup(alice, "受理平台"), // 5
	}))
	seqs := func(holder string) []int64 {
		t.Helper()
		es, err := s.HolderAudit(ctx, holder, 10)
		must(t, err)
		var out []int64
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	if got := seqs(alice); len(got) != 3 || got[0] != 5 || got[1] != 4 || got[2] != 1 {
		t.Fatalf("alice's entries = %v, want [5 4 1]", got)
	}
	if got := seqs(bob); len(got) != 1 || got[0] != 2 {
		t.Fatalf("bob's entries = %v, want [2]", got)
	}
	verify := func(wantBad int64) {
		t.Helper()
		rep, err := l.Verify(ctx, 1, 0)
		must(t, err)
		if wantBad == 0 {
			if !rep.OK || rep.Checked != 5 {
				t.Fatalf("untouched ledger: %+v", rep)
			}
			return
		}
		if rep.OK || rep.FirstBad != wantBad || !strings.Contains(rep.Problem, "holder") {
			t.Fatalf("report %+v, want first bad %d naming the holder", rep, wantBad)
		}
	}
	verify(0)

	db := s.DB()
	// The column is the database's to derive: writing it is refused.
	for _, q := range []string{`UPDATE audit_log SET holder = NULL WHERE seq = 5`, `UPDATE audit_log SET holder = '` + bob + `' WHERE seq = 5`} {
		if _, err := db.Exec(ctx, q); err == nil {
			t.Fatalf("%s: the database took it", q)
		}
	}
	verify(0)

	// Someone who may change the schema makes the column writable again.
	freeHolderColumn(t, db)
	verify(0)
	// Cleared: alice no longer finds entry 5; verification names it.
	execSQL(t, db, `UPDATE audit_log SET holder = NULL WHERE seq = 5`)
	verify(5)
	if got := seqs(alice); len(got) != 2 {
		t.Fatalf("alice's entries with 5 cleared = %v", got)
	}
	// Moved to bob: verification names it, and bob is not shown it.
	execSQL(t, db, `UPDATE audit_log SET holder = $1 WHERE seq = 5`, bob)
	verify(5)
	if _, err := s.HolderAudit(ctx, bob, 10); !errs.Is(err, errs.Internal) {
		t.Fatalf("bob's entries with alice's moved to him: err = %v, want an internal error", err)
	}
	// Given to an entry about no one.
	execSQL(t, db, `UPDATE audit_log SET holder = $1 WHERE seq = 5`, alice)
	verify(0)
	execSQL(t, db, `UPDATE audit_log SET holder = $1 WHERE seq = 3`, alice)
	verify(3)
}

func execSQL(t *testing.T, db sqlstore.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// freeHolderColumn turns audit_log.holder back into a plain column, values
// kept: on PostgreSQL by dropping its expression, on SQLite (which cannot)
// by rebuilding the table.
func freeHolderColumn(t *testing.T, db sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `ALTER TABLE audit_log ALTER COLUMN holder DROP EXPRESSION`); err == nil {
		return
	}
	execSQL(t, db, `CREATE TABLE audit_log_free (seq integer PRIMARY KEY, body text NOT NULL, hash text NOT NULL, holder text)`)
	execSQL(t, db, `INSERT INTO audit_log_free SELECT seq, body, hash, holder FROM audit_log`)
	execSQL(t, db, `DROP TABLE audit_log`)
	execSQL(t, db, `ALTER TABLE audit_log_free RENAME TO audit_log`)
}
