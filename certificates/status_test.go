package certificates_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/statuslist"
)

// TestStatusReferences: documents from before status lists (a service
// without a public URL writes them) carry no references and stay valid;
// new ones carry both; revoked, superseded and suspended versions are
// written into the list, expired ones are not.
func TestStatusReferences(t *testing.T) {
	t.Parallel()
	svc, _, clk, _ := newService(t)
	ctx := context.Background()
	sc := certificates.Scope{}
	old, err := svc.Issue(ctx, sc, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.Certificate.Status != nil || strings.Contains(payload(t, old.Document), "credentialStatus") {
		t.Fatalf("a hub without a public URL wrote status references: %+v", old.Certificate.Status)
	}
	svc.PublicURL, svc.StatusListSize = "https://hub.example.gov.cn", 1024
	issue := func(from, until string) *certificates.Issued {
		t.Helper()
		res, err := svc.Issue(ctx, sc, request(from, until), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Certificate.Status == nil {
			t.Fatal("no status entry")
		}
		var p struct {
			CredentialStatus []statuslist.BSLEntry `json:"credentialStatus"`
			Status           statuslist.Claim      `json:"status"`
		}
		_ = json.Unmarshal([]byte(payload(t, res.Document)), &p)
		ref := res.Certificate.Status
		if want := statuslist.Entries(svc.PublicURL, ref.List, ref.Index); len(p.CredentialStatus) != 2 || p.CredentialStatus[0] != want[0] ||
			p.CredentialStatus[1] != want[1] || p.Status != statuslist.NewClaim(svc.PublicURL, ref.List, ref.Index) {
			t.Fatalf("document references %+v, entry %+v", p, ref)
		}
		return res
	}
	revoked, suspended, revised, expired := issue("2026-01-01", "2026-12-31"), issue("2026-01-01", "2026-12-31"),
		issue("2026-01-01", "2026-12-31"), issue("2026-01-01", "2026-06-30")
	for _, d := range [][]byte{old.Document, revoked.Document} {
		if v, err := svc.VerifyDocument(ctx, d); err != nil || !v.Valid {
			t.Fatalf("verify: %v %+v", err, v)
		}
	}
	if _, err := svc.Lifecycle(ctx, sc, revoked.Certificate.ID, certificates.Revoke, "吊销"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Lifecycle(ctx, sc, suspended.Certificate.ID, certificates.Suspend, "检查"); err != nil {
		t.Fatal(err)
	}
	next, err := svc.Revise(ctx, sc, revised.Certificate.ID, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路1号"}})
	if err != nil {
		t.Fatal(err)
	}
	if *next.Certificate.Status == *revised.Certificate.Status {
		t.Fatal("a revision kept its predecessor's entry")
	}
	clk.Set(clk.Now().AddDate(0, 2, 0)) // past the fourth one's validity
	l, err := svc.StatusList(ctx, revoked.Certificate.Status.List)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ref  *certificates.StatusRef
		want statuslist.Status
	}{
		{"revoked", revoked.Certificate.Status, statuslist.Invalid},
		{"suspended", suspended.Certificate.Status, statuslist.Suspended},
		{"superseded", revised.Certificate.Status, statuslist.Invalid},
		{"current revision", next.Certificate.Status, statuslist.Valid},
		{"expired", expired.Certificate.Status, statuslist.Valid},
	} {
		if got, err := l.Get(c.ref.Index); err != nil || got != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, got, err, c.want)
		}
	}
}

func payload(t *testing.T, doc []byte) string {
	t.Helper()
	msg, err := jws.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg.Payload())
}
