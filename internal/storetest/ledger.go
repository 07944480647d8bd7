package storetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// newLedger is a ledger over s with a fresh key, as the hub keeps one.
func newLedger(t *testing.T, s *sqlstore.Store) *exchange.Ledger {
	t.Helper()
	master, _ := signing.GenerateMasterKey()
	key, err := signing.NewLedgerKey(master, "certhub.test/ledger")
	must(t, err)
	return &exchange.Ledger{Store: s, Key: exchange.Keys{Signer: key.Signer, Verifier: key.Verifier}, Origin: "certhub.test/ledger", Now: time.Now}
}

// testLedgerHolder: what a holder is shown of the ledger (HolderAudit)
// follows the holder index inside the hashed entry. The holder column it
// searches cannot be written; with its definition changed so that it can,
// clearing it or moving an entry to another holder is reported by Verify
// at that entry, and an entry moved to another holder is not shown to
// them.
func testLedgerHolder(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	l := newLedger(t, s)
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

// purgeStops is a store whose removal of archived entries fails, as a
// run stopped between recording a month and dropping it would leave it.
type purgeStops struct{ *sqlstore.Store }

func (purgeStops) PurgeAudit(context.Context, time.Time, int64) (int64, error) {
	return 0, errs.E(errs.Unavailable, "stopped before removing the entries")
}

// testLedgerArchive: closed months move to the object store as bundles
// that verify on their own; the database no longer holds them (PostgreSQL
// drops their partitions); verification still proves the chain from entry
// 1 and names the month whose object is altered or missing; a holder's
// history lists the live entries and says where the rest are; a run that
// stopped before removing a month is finished by the next.
func testLedgerArchive(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	master, _ := signing.GenerateMasterKey()
	key, err := signing.NewLedgerKey(master, "certhub.test/ledger")
	must(t, err)
	dir := t.TempDir()
	objects, err := filestore.Open(dir)
	must(t, err)
	now := time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC)
	l := &exchange.Ledger{Store: s, Key: exchange.Keys{Signer: key.Signer, Verifier: key.Verifier}, Origin: "certhub.test/ledger",
		Now: func() time.Time { return now }, Objects: objects, VerifierKey: key.VerifierKey}
	alice := strings.Repeat("a1", 32)
	at := func(month time.Month, day int) time.Time { return time.Date(2026, month, day, 12, 0, 0, 0, time.UTC) }
	entry := func(when time.Time, holder string) exchange.AuditEntry {
		return exchange.AuditEntry{At: when, Actor: "consumer:tok_1", ActorName: "受理平台", Action: "lookup", Certificates: []string{"cert-1"},
			Holder: holder, Purpose: "食品经营许可", CaseID: "2026-0001"}
	}
	// January's entries arrive before its partition exists (they go to
	// the default one and move when it is made).
	must(t, l.RecordAll(ctx, []exchange.AuditEntry{entry(at(1, 3), alice), entry(at(1, 20), ""), entry(at(1, 31), "")})) // 1-3
	must(t, s.EnsureAuditPartitions(ctx, at(1, 1)))
	must(t, s.EnsureAuditPartitions(ctx, at(1, 1))) // again: nothing to do
	must(t, s.EnsureAuditPartitions(ctx, at(3, 1)))
	_, err = l.Checkpoint(ctx) // a checkpoint inside January
	must(t, err)
	must(t, l.RecordAll(ctx, []exchange.AuditEntry{entry(at(2, 1), alice), entry(at(2, 27), "")}))    // 4-5
	must(t, l.RecordAll(ctx, []exchange.AuditEntry{entry(at(3, 2), alice), entry(at(3, 30), "")}))    // 6-7
	must(t, l.RecordAll(ctx, []exchange.AuditEntry{entry(at(4, 1), alice), entry(at(4, 14), alice)})) // 8-9
	db := s.DB()
	partitioned := false
	var n int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_log'::regclass`).Scan(&n); err == nil {
		partitioned = true
		t.Logf("audit_log has %d partitions", n)
		var inJan int64
		must(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_log_y2026m01`).Scan(&inJan))
		if inJan != 3 {
			t.Fatalf("January's partition holds %d entries, want the 3 moved from the default one", inJan)
		}
	}

	for _, bad := range []struct{ value, want string }{{"2026-05", "closed months"}, {"2026-13", "YYYY-MM"}, {"", "YYYY-MM"}} {
		if _, err := exchange.ParseArchiveMonth("--before", bad.value, now); !errs.Is(err, errs.Invalid) ||
			!strings.Contains(err.Error(), "--before") || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("--before %q: %v, want an invalid-input error naming the flag and %q", bad.value, err, bad.want)
		}
	}
	before, err := exchange.ParseArchiveMonth("--before", "2026-03", now)
	must(t, err)
	rep, err := l.Archive(ctx, before)
	must(t, err)
	if len(rep.Archived) != 2 || rep.Archived[0].Month != "2026-01" || rep.Archived[0].FirstSeq != 1 || rep.Archived[0].LastSeq != 3 ||
		rep.Archived[1].Month != "2026-02" || rep.Archived[1].LastSeq != 5 || rep.Removed != 5 {
		t.Fatalf("archive report %+v (%+v), want January 1-3 and February 4-5, 5 removed", rep, rep.Archived)
	}
	if rep.Archived[1].PrevHash != rep.Archived[0].LastHash {
		t.Fatal("February's bundle does not continue from January's last hash")
	}
	must(t, db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE seq <= 5`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d archived entries still in the database", n)
	}
	if partitioned {
		var gone, kept bool
		must(t, db.QueryRow(ctx, `SELECT to_regclass('audit_log_y2026m01') IS NULL AND to_regclass('audit_log_y2026m02') IS NULL,
			to_regclass('audit_log_y2026m03') IS NOT NULL`).Scan(&gone, &kept))
		if !gone || !kept {
			t.Fatalf("partitions: January and February dropped %v, March kept %v", gone, kept)
		}
	}
	// Each month verifies on its own, offline.
	for _, a := range rep.Archived {
		data, err := objects.Get(ctx, a.Key)
		must(t, err)
		b, err := exchange.ReadBundle(strings.NewReader(string(data)))
		must(t, err)
		br, err := b.Verify(ctx, key.Verifier)
		must(t, err)
		if !br.OK || b.Key != key.VerifierKey || b.Archive.Month != a.Month {
			t.Fatalf("bundle of %s: %+v", a.Month, br)
		}
	}
	if refs, err := s.ReferencedKeys(ctx, []string{exchange.ArchiveKey("2026-01")}); err != nil || !refs[exchange.ArchiveKey("2026-01")] {
		t.Fatalf("the orphan sweep would delete an archived month: %v %v", refs, err)
	}
	verify := func(wantMonth, wantProblem string) {
		t.Helper()
		rep, err := l.Verify(ctx, 1, 0)
		must(t, err)
		if wantMonth == "" {
			if !rep.OK || rep.Checked != 9 {
				t.Fatalf("verify across archived and live entries: %+v", rep)
			}
			return
		}
		if rep.OK || rep.Month != wantMonth || !strings.Contains(rep.Problem, wantMonth) || !strings.Contains(rep.Problem, wantProblem) {
			t.Fatalf("verify: %+v, want a failure in %s saying %q", rep, wantMonth, wantProblem)
		}
	}
	verify("", "")
	var all []int64
	must(t, l.ScanAll(ctx, 0, func(r exchange.LedgerRecord) error { all = append(all, r.Seq); return nil }))
	if len(all) != 9 || all[0] != 1 {
		t.Fatalf("ScanAll = %v, want entries 1-9", all)
	}

	// The holder's history: the live entries, and where the rest are.
	es, err := s.HolderAudit(ctx, alice, 10)
	must(t, err)
	if len(es) != 3 || es[0].Seq != 9 || es[2].Seq != 6 {
		t.Fatalf("alice's live entries: %v", es)
	}
	if ab, err := l.ArchivedBefore(ctx); err != nil || ab != "2026-03" {
		t.Fatalf("archived before = %q %v, want 2026-03", ab, err)
	}

	// Again: nothing to do.
	rep, err = l.Archive(ctx, before)
	must(t, err)
	if len(rep.Archived) != 0 || rep.Removed != 0 {
		t.Fatalf("second run: %+v", rep)
	}

	// Altered, then missing: verification names the month.
	path := filepath.Join(dir, "ledger", "archive", "2026-01.jsonl")
	orig, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, []byte(strings.Replace(string(orig), "食品经营许可", "别的用途", 1)), 0o600))
	verify("2026-01", "SHA-256")
	must(t, os.Remove(path))
	verify("2026-01", "missing")
	must(t, os.WriteFile(path, orig, 0o600))
	verify("", "")

	// A run that stops after recording March but before removing it: the
	// chain still verifies, and the next run finishes it.
	stopped := *l
	stopped.Store = purgeStops{s}
	april, err := exchange.ParseArchiveMonth("--before", "2026-04", now)
	must(t, err)
	if _, err := stopped.Archive(ctx, april); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("stopped run: %v", err)
	}
	verify("", "")
	rep, err = l.Archive(ctx, april)
	must(t, err)
	if len(rep.Finished) != 1 || rep.Finished[0] != "2026-03" || len(rep.Archived) != 0 || rep.Removed != 2 {
		t.Fatalf("run after a stopped one: %+v", rep)
	}
	if ab, _ := l.ArchivedBefore(ctx); ab != "2026-04" {
		t.Fatalf("archived before = %q, want 2026-04", ab)
	}
	// New entries continue the chain after the archived ones.
	must(t, l.Record(ctx, entry(now, alice)))
	rep2, err := l.Verify(ctx, 1, 0)
	must(t, err)
	if !rep2.OK || rep2.Checked != 10 {
		t.Fatalf("verify after archiving and appending: %+v", rep2)
	}
}
