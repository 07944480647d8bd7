package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testFederation: the identity is one row that keeps its id, children are
// replaced by id and never take the identity's, and the last good
// directory is kept per source.
func testFederation(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.FederationSelf(ctx)
	mustCode(t, errs.NotFound, err)
	jwk := json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)
	self := &federation.Self{ID: "330100", Name: "杭州市电子证照库", URL: "https://city.example", Parent: "330000",
		ParentURL: "https://province.example", Root: federation.RootKey{HubID: "330000", KID: "k", JWK: jwk}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.SetFederationSelf(ctx, self))
	self.Name = "杭州市"
	must(t, s.SetFederationSelf(ctx, self))
	got, err := s.FederationSelf(ctx)
	must(t, err)
	if got.Name != "杭州市" || got.Root.HubID != "330000" || string(got.Root.JWK) != string(jwk) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("identity read back as %+v", got)
	}

	child := func(id, name string) *federation.Child {
		return &federation.Child{Hub: federation.Hub{ID: id, Name: name, URL: "https://" + id + ".example", Parent: "330100",
			Keys:        []federation.Key{{KID: "c" + id, JWK: jwk, State: federation.KeyActive}},
			Authorities: []string{"11" + id + "MB0000001R"}, Types: []string{"T1"}},
			Description: "desc-" + name, AdmittedAt: t0, UpdatedAt: t0}
	}
	must(t, s.PutChild(ctx, child("330106", "西湖区")))
	must(t, s.PutChild(ctx, child("330102", "上城区")))
	again := child("330106", "西湖区电子证照库")
	again.UpdatedAt = t0.Add(time.Hour)
	must(t, s.PutChild(ctx, again))
	cs, err := s.Children(ctx)
	must(t, err)
	if len(cs) != 2 || cs[0].ID != "330102" || cs[1].Name != "西湖区电子证照库" || cs[1].Description != "desc-西湖区电子证照库" ||
		!cs[1].AdmittedAt.Equal(t0) || !cs[1].UpdatedAt.Equal(t0.Add(time.Hour)) || cs[1].Keys[0].KID != "c330106" {
		t.Fatalf("children read back as %+v %+v", cs[0], cs[1])
	}
	// The identity is never a child, nor a child the identity.
	mustCode(t, errs.Conflict, s.PutChild(ctx, child("330100", "自己")))
	self2 := *self
	self2.ID = "330106"
	mustCode(t, errs.Invalid, s.SetFederationSelf(ctx, &self2))

	must(t, s.PutDirectory(ctx, "330000", []byte("a.b.c"), t0))
	must(t, s.PutDirectory(ctx, "330000", []byte("d.e.f"), t0.Add(time.Minute)))
	must(t, s.PutDirectory(ctx, "330106", []byte("g.h.i"), t0))
	ds, err := s.Directories(ctx)
	must(t, err)
	if len(ds) != 2 || string(ds["330000"]) != "d.e.f" || string(ds["330106"]) != "g.h.i" {
		t.Fatalf("directories read back as %q", ds)
	}
}

// testAggregation: a push applies each change once and in order, whatever
// was applied before; one that does not continue from the cursor is
// refused with the cursor; versions, supersession and lifecycle states
// land as the events say, and each event joins this hub's outbox once,
// marked with its home hub.
func testAggregation(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const auth = "11330102MB0000002A"
	const typ = auth + "002"
	ident := func(serial string, v int) certificates.Identifier {
		return certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: serial, Version: v}
	}
	event := func(n int, kind string, id certificates.Identifier) federation.Change {
		e := exchange.Event{ID: fmt.Sprintf("evt_%d", n), Kind: kind, CertificateID: id.String(), Lineage: id.Lineage(), Type: typ,
			Authority: auth, Version: id.Version, Reason: "原因", At: t0.Add(time.Duration(n) * time.Minute), HomeHub: "330102"}
		ch := federation.Change{Seq: int64(n * 10), Event: e}
		if kind == exchange.EventIssued || kind == exchange.EventRevised {
			from, _ := certificates.ParseDate("2026-01-01")
			ch.Version = &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(), Type: typ, Authority: auth,
				Version: id.Version, HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"), HolderName: "某某公司",
				ValidFrom: from, State: certificates.StateValid, DocumentKey: "federated/330102/" + id.String(), DocumentSHA256: "ab",
				KID: "kid-c", IssuedAt: e.At, UpdatedAt: e.At}
		}
		return ch
	}
	a1, a2, b1 := ident("000001", 1), ident("000001", 2), ident("000002", 1)
	batch := []federation.Change{
		event(1, exchange.EventIssued, a1), event(2, exchange.EventIssued, b1), event(3, exchange.EventSuspended, b1),
		event(4, exchange.EventRevised, a2), event(5, exchange.EventReinstated, b1), event(6, exchange.EventRevoked, b1),
	}
	// The first four, then all six again (a retry after a lost answer):
	// the last two are applied, the first four not twice.
	through, n, err := s.ApplyPush(ctx, "330102", 0, batch[:4], t0)
	must(t, err)
	if through != 40 || n != 4 {
		t.Fatalf("first push: through %d, %d applied", through, n)
	}
	through, n, err = s.ApplyPush(ctx, "330102", 0, batch, t0)
	must(t, err)
	if through != 60 || n != 2 {
		t.Fatalf("second push: through %d, %d applied", through, n)
	}
	// A push from past the cursor would skip events: refused, with it.
	through, _, err = s.ApplyPush(ctx, "330102", 70, []federation.Change{event(8, exchange.EventRevoked, a2)}, t0)
	mustCode(t, errs.Conflict, err)
	if through != 60 {
		t.Fatalf("refused push reports cursor %d", through)
	}
	states := map[string]certificates.State{a1.String(): certificates.StateSuperseded, a2.String(): certificates.StateValid,
		b1.String(): certificates.StateRevoked}
	vs, err := s.FederatedVersions(ctx, "330102")
	must(t, err)
	if len(vs) != 3 {
		t.Fatalf("%d versions", len(vs))
	}
	for _, v := range vs {
		if v.State != states[v.ID] || v.HomeHub != "330102" {
			t.Errorf("%s: %s, want %s", v.ID, v.State, states[v.ID])
		}
	}
	old, err := s.FederatedVersion(ctx, a1.String())
	must(t, err)
	if old.SupersededBy != a2.String() || old.HolderName != "某某公司" || string(old.HolderSealed) != "s" || !old.IssuedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("version 1 read back as %+v", old)
	}
	if got, _ := s.FederatedVersion(ctx, b1.String()); got.StateReason != "原因" {
		t.Fatalf("revocation reason %q", got.StateReason)
	}
	_, err = s.FederatedVersion(ctx, "nope")
	mustCode(t, errs.NotFound, err)
	evs, err := s.EventsAfter(ctx, 0, 100, t0.Add(24*time.Hour))
	must(t, err)
	if len(evs) != 6 || evs[0].HomeHub != "330102" || evs[5].Kind != exchange.EventRevoked {
		t.Fatalf("%d events in this hub's outbox", len(evs))
	}
	cur, err := s.InboxCursors(ctx)
	must(t, err)
	if cur["330102"] != 60 {
		t.Fatalf("inbox cursors %v", cur)
	}

	// The push lease and cursor.
	now := time.Now()
	c, ok, err := s.LeaseAggregation(ctx, "a", now, now.Add(time.Minute))
	must(t, err)
	if !ok || c != 0 {
		t.Fatalf("first lease: %v %d", ok, c)
	}
	if _, ok, _ := s.LeaseAggregation(ctx, "b", now, now.Add(time.Minute)); ok {
		t.Fatal("a second replica took a held push lease")
	}
	must(t, s.MoveAggregation(ctx, "a", 42))
	mustCode(t, errs.Conflict, s.MoveAggregation(ctx, "b", 43))
	c, ok, err = s.LeaseAggregation(ctx, "b", now.Add(2*time.Minute), now.Add(3*time.Minute))
	must(t, err)
	if !ok || c != 42 {
		t.Fatalf("lease after expiry: %v %d", ok, c)
	}
}
