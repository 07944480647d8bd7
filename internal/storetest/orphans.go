package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testReferencedKeys: every kind of row that names an object answers for
// its key — a certificate's own document, a bulk batch object (many rows,
// each a byte range), a superseded version's document, a federated copy's
// push batch, an authority's seal picture — and keys no row names, or a
// seal picture since replaced, do not. More keys than one statement takes
// are answered too.
func testReferencedKeys(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	seedCatalog(t, s)
	single := newCert("000001", 1, "h")
	must(t, s.InsertCertificate(ctx, single, nil))
	var batch []*certificates.Certificate
	for i := 2; i <= 4; i++ {
		c := newCert(fmt.Sprintf("%06d", i), 1, "h")
		c.DocumentKey, c.DocumentOffset, c.DocumentLength = "batches/t/a/000002-ab.jwsl", int64(100*(i-2)), 99
		batch = append(batch, c)
	}
	must(t, s.InsertCertificates(ctx, batch))
	rev := newCert("000001", 2, "h")
	rev.DocumentKey = "documents/000001-v2"
	must(t, s.Supersede(ctx, single.ID, rev)) // documents/000001 stays the superseded version's

	const auth = "11330102MB0000002A"
	id := certificates.Identifier{TypeCode: auth + "002", Issuer: auth, Serial: "000001", Version: 1}
	from, _ := certificates.ParseDate("2026-01-01")
	e := exchange.Event{ID: "evt_1", Kind: exchange.EventIssued, CertificateID: id.String(), Lineage: id.Lineage(), Type: id.TypeCode,
		Authority: auth, Version: 1, At: t0, HomeHub: "330102"}
	fed := federation.Change{Seq: 1, Event: e, Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(),
		Type: id.TypeCode, Authority: auth, Version: 1, HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"),
		HolderName: "某某公司", ValidFrom: from, State: certificates.StateValid, DocumentKey: "federated/330102/batches/0a1b.jwsl",
		DocumentOffset: 0, DocumentLength: 10, DocumentSHA256: "ab", KID: "kid-c", IssuedAt: t0, UpdatedAt: t0}}
	_, _, err := s.ApplyPush(ctx, "330102", 0, []federation.Change{fed}, nil, t0)
	must(t, err)

	must(t, s.SetSeal(ctx, &certificates.Seal{Authority: authCode, Key: certificates.SealKey(authCode, "aa"), SHA256: "aa", UpdatedAt: t0}, true))
	must(t, s.SetSeal(ctx, &certificates.Seal{Authority: authCode, Key: certificates.SealKey(authCode, "bb"), SHA256: "bb", UpdatedAt: t0}, true))

	referenced := []string{single.DocumentKey, rev.DocumentKey, "batches/t/a/000002-ab.jwsl", "federated/330102/batches/0a1b.jwsl",
		certificates.SealKey(authCode, "bb")}
	orphans := []string{"documents/none", certificates.SealKey(authCode, "aa"), "batches/t/a/000009-cd.jwsl", "federated/330102/batches/ffff.jwsl", ""}
	keys := append(append([]string{}, orphans...), referenced...)
	// Past one statement's chunk: the last key is referenced.
	for i := 0; len(keys) < 2500; i++ {
		keys = append(keys, fmt.Sprintf("documents/filler-%d", i))
	}
	keys = append(keys, rev.DocumentKey)
	got, err := s.ReferencedKeys(ctx, keys)
	must(t, err)
	for _, k := range referenced {
		if !got[k] {
			t.Errorf("%q is referenced, ReferencedKeys says not", k)
		}
	}
	if len(got) != len(referenced) {
		t.Errorf("ReferencedKeys = %v, want exactly %v", got, referenced)
	}
	if got, err := s.ReferencedKeys(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no keys: %v, %v", got, err)
	}
}

// testOrphanLease: one owner at a time, kept by renewal, free once it ran
// out.
func testOrphanLease(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	lease := func(owner string, at time.Time) bool {
		t.Helper()
		ok, err := s.LeaseOrphanSweep(ctx, owner, at, at.Add(time.Minute))
		must(t, err)
		return ok
	}
	if !lease("a", t0) || lease("b", t0.Add(time.Second)) || !lease("a", t0.Add(50*time.Second)) {
		t.Fatal("a takes and renews the lease, b is refused meanwhile")
	}
	if lease("b", t0.Add(100*time.Second)) || !lease("b", t0.Add(111*time.Second)) || lease("a", t0.Add(112*time.Second)) {
		t.Fatal("b takes the lease once a's renewal ran out, and a is refused then")
	}
}
