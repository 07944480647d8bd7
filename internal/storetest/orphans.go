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
	SeedCatalog(t, s)
	single := NewCert("000001", 1, "h")
	must(t, s.InsertCertificate(ctx, single, nil))
	var batch []*certificates.Certificate
	for i := 2; i <= 4; i++ {
		c := NewCert(fmt.Sprintf("%06d", i), 1, "h")
		c.DocumentKey, c.DocumentOffset, c.DocumentLength = "batches/t/a/000002-ab.jwsl", int64(100*(i-2)), 99
		batch = append(batch, c)
	}
	must(t, s.InsertCertificates(ctx, batch))
	rev := NewCert("000001", 2, "h")
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
// out or was handed back; a finished sweep's time is what the next lease
// reports, a sweep that did not finish changes it not, and an owner that
// no longer holds the lease cannot end it. The lease is not an event
// cursor: events are pruned as before.
func testOrphanLease(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	lease := func(owner string, at time.Time) (time.Time, bool) {
		t.Helper()
		last, ok, err := s.LeaseOrphanSweep(ctx, owner, at, at.Add(time.Minute))
		must(t, err)
		return last, ok
	}
	held := func(owner string, at time.Time) bool { _, ok := lease(owner, at); return ok }
	if last, ok := lease("a", t0); !ok || !last.IsZero() {
		t.Fatalf("first lease: %v, last sweep %v", ok, last)
	}
	if held("b", t0.Add(time.Second)) || !held("a", t0.Add(50*time.Second)) {
		t.Fatal("a takes and renews the lease, b is refused meanwhile")
	}
	if held("b", t0.Add(100*time.Second)) || !held("b", t0.Add(111*time.Second)) || held("a", t0.Add(112*time.Second)) {
		t.Fatal("b takes the lease once a's renewal ran out, and a is refused then")
	}
	// a no longer holds it: its end changes nothing.
	must(t, s.EndOrphanSweep(ctx, "a", t0.Add(113*time.Second), true))
	if held("c", t0.Add(114*time.Second)) {
		t.Fatal("an owner that lost the lease handed it back")
	}
	done := t0.Add(120 * time.Second)
	must(t, s.EndOrphanSweep(ctx, "b", done, true))
	if last, ok := lease("c", done.Add(time.Second)); !ok || !last.Equal(done) {
		t.Fatalf("after b finished: %v, last sweep %v, want %v", ok, last, done)
	}
	must(t, s.EndOrphanSweep(ctx, "c", done.Add(2*time.Second), false))
	if last, ok := lease("a", done.Add(3*time.Second)); !ok || !last.Equal(done) {
		t.Fatalf("after c stopped unfinished: %v, last sweep %v, want %v", ok, last, done)
	}
	// Prune still deletes old events: the sweep holds no event cursor.
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "h")
	must(t, s.InsertCertificate(ctx, c, nil))
	now := time.Now()
	if _, ok, err := s.LeaseDispatch(ctx, "d", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("dispatch lease: %v %v", ok, err)
	}
	evs, err := s.EventsAfter(ctx, 0, 10, now.Add(time.Hour))
	if err != nil || len(evs) != 1 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	must(t, s.Fanout(ctx, "d", nil, evs[0].Seq)) // every cursor is past it now
	must(t, s.Prune(ctx, now.Add(time.Hour)))
	if evs, err := s.EventsAfter(ctx, 0, 10, time.Now().Add(time.Hour)); err != nil || len(evs) != 0 {
		t.Fatalf("events left after Prune: %d, %v", len(evs), err)
	}
}
