package exchange_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/signing"
)

const origin = "certhub.test/ledger"

// chain builds n lookup records about one holder, hashed in order.
func chain(n int) []exchange.LedgerRecord {
	var out []exchange.LedgerRecord
	prev := ""
	for i := 1; i <= n; i++ {
		e := exchange.AuditEntry{Seq: int64(i), At: time.Date(2026, 11, 21, 10, 0, i, 0, time.UTC), Actor: "consumer:tok_1",
			Action: "lookup", Holder: strings.Repeat("a1", 32), Purpose: "SX-001"}
		b := exchange.Body(e)
		prev = exchange.ChainHash(prev, b)
		holder := e.Holder
		out = append(out, exchange.LedgerRecord{Seq: e.Seq, Body: b, Hash: prev, Holder: &holder})
	}
	return out
}

// signed signs a checkpoint text (origin, size, root of records[:size]).
func signed(t *testing.T, s note.Signer, log string, records []exchange.LedgerRecord, size int) []byte {
	t.Helper()
	raw, _ := hex.DecodeString(records[size-1].Hash)
	n, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", log, size, base64.StdEncoding.EncodeToString(raw))}, s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestVerifyChainNamesTheBadCheckpoint: a checkpoint that does not open
// with the ledger key is named by its place, its size and when it was
// signed, with the reason: another key, a text altered after signing, or
// another log. A holder column that is not the body's names the entry.
func TestVerifyChainNamesTheBadCheckpoint(t *testing.T) {
	t.Parallel()
	master, _ := signing.GenerateMasterKey()
	key, err := signing.NewLedgerKey(master, origin)
	if err != nil {
		t.Fatal(err)
	}
	otherSkey, otherVkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := note.NewSigner(otherSkey)
	otherV, _ := note.NewVerifier(otherVkey)
	records := chain(5)
	at := time.Date(2026, 11, 21, 10, 1, 0, 0, time.UTC)
	good := &exchange.Checkpoint{Size: 2, Note: signed(t, key.Signer, origin, records, 2), At: at.Add(-time.Minute)}
	ours := fmt.Sprintf("%s+%08x", origin, key.Verifier.KeyHash())

	tests := []struct {
		name    string
		second  []byte
		records func([]exchange.LedgerRecord)
		wantCP  int
		wantBad int64
		want    []string
	}{
		{name: "intact", second: signed(t, key.Signer, origin, records, 4)},
		{name: "another key", second: signed(t, other, origin, records, 4), wantCP: 2,
			want: []string{"checkpoint 2 (size 4, signed 2026-11-21T10:01:00Z)", "not by the ledger key " + ours,
				fmt.Sprintf("signed by another key (%s+%08x)", origin, otherV.KeyHash())}},
		{name: "text altered after signing", wantCP: 2,
			second: []byte(strings.Replace(string(signed(t, key.Signer, origin, records, 4)), "\n4\n", "\n5\n", 1)),
			want:   []string{"checkpoint 2 (size 5, signed 2026-11-21T10:01:00Z)", "signature by the ledger key " + ours + " does not verify"}},
		{name: "another log", second: signed(t, key.Signer, "elsewhere/ledger", records, 4), wantCP: 2,
			want: []string{"checkpoint 2 (size 4, signed", `names log "elsewhere/ledger", not "` + origin + `"`}},
		{name: "holder column cleared", second: signed(t, key.Signer, origin, records, 4), wantBad: 3,
			records: func(rs []exchange.LedgerRecord) { rs[2].Holder = new(string) },
			want:    []string{"entry 3 is filed under a holder index its hashed body does not name", "column none"}},
		{name: "holder column moved", second: signed(t, key.Signer, origin, records, 4), wantBad: 3,
			records: func(rs []exchange.LedgerRecord) { h := strings.Repeat("b2", 32); rs[2].Holder = &h },
			want:    []string{"entry 3 is filed under a holder index", "column b2b2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := chain(5)
			if tt.records != nil {
				tt.records(rs)
			}
			cps := []*exchange.Checkpoint{good, {Size: 4, Note: tt.second, At: at}}
			rep, err := exchange.VerifyChain(context.Background(), origin, key.Verifier, cps, func(fn func(exchange.LedgerRecord) error) error {
				for _, r := range rs {
					if err := fn(r); err != nil {
						return err
					}
				}
				return nil
			}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if !rep.OK || rep.Checkpoints != 2 || rep.Checked != 5 {
					t.Fatalf("report %+v, want intact", rep)
				}
				return
			}
			if rep.OK || rep.BadCheckpoint != tt.wantCP || rep.FirstBad != tt.wantBad {
				t.Fatalf("report %+v, want bad checkpoint %d, first bad entry %d", rep, tt.wantCP, tt.wantBad)
			}
			for _, w := range tt.want {
				if !strings.Contains(rep.Problem, w) {
					t.Errorf("problem %q does not say %q", rep.Problem, w)
				}
			}
		})
	}
}

// ledgerOnly is a LedgerStore that is not a CaseLedger: only appends, and
// it fails them when told to.
type ledgerOnly struct {
	exchange.LedgerStore
	appended []exchange.AuditEntry
	fail     error
}

func (s *ledgerOnly) AppendAudit(_ context.Context, es []exchange.AuditEntry) error {
	if s.fail != nil {
		return s.fail
	}
	s.appended = append(s.appended, es...)
	return nil
}

// casesOnly keeps resolutions, and fails them when told to.
type casesOnly struct {
	exchange.ItemStore
	cases []*exchange.Resolution
	fail  error
}

func (s *casesOnly) RecordResolution(_ context.Context, r *exchange.Resolution) error {
	if s.fail != nil {
		return s.fail
	}
	s.cases = append(s.cases, r)
	return nil
}

// TestRecordWithCaseApart: where the ledger's store cannot take the case
// record with the entries, both are written side by side, stamped as
// RecordAll stamps, and either failing fails the call; with no entries
// (or no ledger) only the case is written.
func TestRecordWithCaseApart(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 23, 30, 0, 0, time.UTC)
	ls, cs := &ledgerOnly{}, &casesOnly{}
	l := &exchange.Ledger{Store: ls, Now: func() time.Time { return now }, Location: time.FixedZone("CST", 8*3600)}
	rec := &exchange.Resolution{Item: "SX-1", CaseID: "c-1", Consumer: "csm_1"}
	if err := l.RecordWithCase(ctx, []exchange.AuditEntry{{Action: "resolve"}, {Action: "resolve"}}, cs, rec); err != nil {
		t.Fatal(err)
	}
	if len(ls.appended) != 2 || len(cs.cases) != 1 || cs.cases[0] != rec {
		t.Fatalf("appended %d entries and %d cases, want 2 and 1", len(ls.appended), len(cs.cases))
	}
	if e := ls.appended[0]; !e.At.Equal(now) || e.Outcome != "ok" || e.Day != "2026-03-05" {
		t.Fatalf("entry not stamped: at %v, outcome %q, day %q", e.At, e.Outcome, e.Day)
	}
	if err := l.RecordWithCase(ctx, nil, cs, rec); err != nil || len(ls.appended) != 2 || len(cs.cases) != 2 {
		t.Fatalf("no entries: %v, %d entries, %d cases; want the case alone", err, len(ls.appended), len(cs.cases))
	}
	var none *exchange.Ledger
	if err := none.RecordWithCase(ctx, []exchange.AuditEntry{{Action: "resolve"}}, cs, rec); err != nil || len(cs.cases) != 3 {
		t.Fatalf("no ledger: %v, %d cases; want the case alone", err, len(cs.cases))
	}
	cs.fail = fmt.Errorf("cases down")
	if err := l.RecordWithCase(ctx, []exchange.AuditEntry{{Action: "resolve"}}, cs, rec); err != cs.fail {
		t.Fatalf("case record failing: %v", err)
	}
	cs.fail, ls.fail = nil, fmt.Errorf("ledger down")
	if err := l.RecordWithCase(ctx, []exchange.AuditEntry{{Action: "resolve"}}, cs, rec); err != ls.fail {
		t.Fatalf("ledger failing: %v", err)
	}
}
