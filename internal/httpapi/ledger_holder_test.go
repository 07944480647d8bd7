package httpapi_test

import (
	"context"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// TestMyAccessesFollowTheHashedEntry: a citizen's /api/v1/me/accesses
// lists the entries whose hashed body names them. Clearing the holder
// column in the database is refused, so a department's lookup cannot be
// hidden that way; with the column made writable by a schema change and an
// entry moved to another citizen, that citizen gets an error, not someone
// else's access, and audit verification names the entry.
func TestMyAccessesFollowTheHashedEntry(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	consumer := h.token(exchange.RoleConsumer, "")
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, consumer, nil, nil, "X-Purpose", "SX-001", "X-Case-Id", "2026-H-1"); st != 200 {
		t.Fatalf("lookup: %d", st)
	}
	me, other := h.holderToken(companyID, "福建某某科技有限公司"), h.holderToken(personID, "张三")
	type accesses struct {
		Accesses []struct {
			Seq    int64
			Action string
			CaseID string `json:"case_id"`
		}
	}
	lookupSeq := func(token string) (int, int64) {
		t.Helper()
		var acc accesses
		st := h.call("GET", "/api/v1/me/accesses", token, nil, &acc)
		for _, a := range acc.Accesses {
			if a.Action == "lookup" && a.CaseID == "2026-H-1" {
				return st, a.Seq
			}
		}
		return st, 0
	}
	st, seq := lookupSeq(me)
	if st != 200 || seq == 0 {
		t.Fatalf("the holder does not see the department's lookup: %d", st)
	}

	ctx := context.Background()
	db := h.Store.DB()
	if _, err := db.Exec(ctx, `UPDATE audit_log SET holder = NULL WHERE seq = $1`, seq); err == nil {
		t.Fatal("the database let the holder column be cleared")
	}
	if st, got := lookupSeq(me); st != 200 || got != seq {
		t.Fatalf("after the refused edit the holder sees %d (%d), want entry %d", got, st, seq)
	}

	// A schema change makes the column writable; the lookup is moved to
	// another citizen.
	for _, q := range []string{
		`CREATE TABLE audit_log_free (seq integer PRIMARY KEY, body text NOT NULL, hash text NOT NULL, holder text)`,
		`INSERT INTO audit_log_free SELECT seq, body, hash, holder FROM audit_log`,
		`DROP TABLE audit_log`, `ALTER TABLE audit_log_free RENAME TO audit_log`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	theirs := h.Certs.Vault.Index(string(certificates.Person), personID)
	if _, err := db.Exec(ctx, `UPDATE audit_log SET holder = $1 WHERE seq = $2`, theirs, seq); err != nil {
		t.Fatal(err)
	}
	if st, got := lookupSeq(other); got != 0 || st != 500 {
		t.Fatalf("another citizen, given the entry in the column: status %d, sees entry %d; want 500 and nothing", st, got)
	}
	rep, err := h.Ledger.Verify(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.FirstBad != seq {
		t.Fatalf("verify: %+v, want first bad entry %d", rep, seq)
	}
}
