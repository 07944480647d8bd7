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
	// Another replica on the same database, which looks a holder up before
	// any copy is kept and so believes there are none for a moment.
	// Both look first: the replica that then applies the push knows at once.
	other := sqlstore.New(s.DB())
	for _, st := range []*sqlstore.Store{s, other} {
		if vs, err := st.FederatedByHolder(ctx, "hx"); err != nil || len(vs) != 0 {
			t.Fatalf("copies before any push: %d %v", len(vs), err)
		}
	}
	// The first four, then all six again (a retry after a lost answer):
	// the last two are applied, the first four not twice.
	through, n, err := s.ApplyPush(ctx, "330102", 0, batch[:4], nil, t0)
	must(t, err)
	if through != 40 || n != 4 {
		t.Fatalf("first push: through %d, %d applied", through, n)
	}
	pushed := time.Now()
	if vs, err := s.FederatedByHolder(ctx, "hx"); err != nil || len(vs) != 3 { // a1 (superseded), b1, a2
		t.Fatalf("the replica that applied the push finds %d copies of the holder (%v); want 3", len(vs), err)
	}
	for {
		late := time.Since(pushed) > time.Second
		vs, err := other.FederatedByHolder(ctx, "hx")
		must(t, err)
		if len(vs) == 3 {
			break
		}
		if late {
			t.Fatalf("the other replica still finds %d copies a second after the first push", len(vs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	through, n, err = s.ApplyPush(ctx, "330102", 0, batch, nil, t0)
	must(t, err)
	if through != 60 || n != 2 {
		t.Fatalf("second push: through %d, %d applied", through, n)
	}
	// A push from past the cursor would skip events: refused, with it.
	through, _, err = s.ApplyPush(ctx, "330102", 70, []federation.Change{event(8, exchange.EventRevoked, a2)}, nil, t0)
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
	if !ok || c.Cursor != 0 || c.Backfilled {
		t.Fatalf("first lease: %v %+v", ok, c)
	}
	if _, ok, _ := s.LeaseAggregation(ctx, "b", now, now.Add(time.Minute)); ok {
		t.Fatal("a second replica took a held push lease")
	}
	must(t, s.MoveAggregation(ctx, "a", 42))
	mustCode(t, errs.Conflict, s.MoveAggregation(ctx, "b", 43))
	c, ok, err = s.LeaseAggregation(ctx, "b", now.Add(2*time.Minute), now.Add(3*time.Minute))
	must(t, err)
	if !ok || c.Cursor != 42 {
		t.Fatalf("lease after expiry: %v %+v", ok, c)
	}
}

// testAggregationBackfill: the child's side reads its registry in order
// (its own versions by seq with their state and document location, then
// its children's copies by id) and keeps its place under the push lease;
// the parent keeps each backfilled version it does not hold, with the
// state it was pushed with and an event of kind backfilled in its outbox,
// leaves one it holds as it is, and moves its cursor to where the backfill
// says its events are held, in one transaction.
func testAggregationBackfill(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)

	// The child's side: its own versions, in seq order.
	c1, c2 := NewCert("000001", 1, "h1"), NewCert("000002", 1, "h2")
	c2.DocumentKey, c2.DocumentOffset, c2.DocumentLength = "batches/b1", 120, 99
	must(t, s.InsertCertificates(ctx, []*certificates.Certificate{c1, c2}))
	c1b := NewCert("000001", 2, "h1")
	c1b.IssuedAt, c1b.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	must(t, s.Supersede(ctx, c1.ID, c1b))
	_, err := s.SetState(ctx, c2.ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "吊销", t0.Add(2*time.Hour), nil)
	must(t, err)
	own, seqs, err := s.OwnVersionsAfter(ctx, 0, 10)
	must(t, err)
	if len(own) != 3 || len(seqs) != 3 || own[0].ID != c1.ID || own[1].ID != c2.ID || own[2].ID != c1b.ID || seqs[0] >= seqs[1] || seqs[1] >= seqs[2] {
		t.Fatalf("own versions: %d, seqs %v", len(own), seqs)
	}
	if v := own[0]; v.State != certificates.StateSuperseded || v.SupersededBy != c1b.ID || v.Lineage != c1.Ident.Lineage() || v.HomeHub != "" ||
		v.ValidFrom.String() != "2026-01-01" || v.KID != "kid-1" || v.Type != typeCode || v.Authority != authCode {
		t.Fatalf("version 1 read for the backfill as %+v", v)
	}
	if v := own[1]; v.State != certificates.StateRevoked || v.StateReason != "吊销" || v.DocumentKey != "batches/b1" ||
		v.DocumentOffset != 120 || v.DocumentLength != 99 || !v.UpdatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("the revoked version read for the backfill as %+v", v)
	}
	rest, restSeqs, err := s.OwnVersionsAfter(ctx, seqs[1], 10)
	must(t, err)
	if len(rest) != 1 || rest[0].ID != c1b.ID || restSeqs[0] != seqs[2] {
		t.Fatalf("after seq %d: %d versions", seqs[1], len(rest))
	}

	// The backfill's place: marked once, at the outbox's end; moved only
	// under the push lease.
	now := time.Now().UTC().Truncate(time.Millisecond)
	b, err := s.StartBackfill(ctx, now)
	must(t, err)
	evs, err := s.EventsAfter(ctx, 0, 100, now.Add(time.Hour))
	must(t, err)
	if b.Done || b.EventsMark != evs[len(evs)-1].Seq || !b.MarkedAt.Equal(now) || b.OwnAfter != 0 || b.CopiesAfter != "" {
		t.Fatalf("backfill started as %+v (outbox ends at %d)", b, evs[len(evs)-1].Seq)
	}
	if _, ok, err := s.LeaseAggregation(ctx, "a", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	mustCode(t, errs.Conflict, s.MoveBackfill(ctx, "b", &federation.Backfill{Round: 1, OwnAfter: 5}))
	must(t, s.MoveBackfill(ctx, "a", &federation.Backfill{Round: 1, OwnAfter: seqs[2], CopiesAfter: "x"}))
	again, err := s.StartBackfill(ctx, now.Add(time.Hour))
	must(t, err)
	if again.EventsMark != b.EventsMark || !again.MarkedAt.Equal(now) || again.OwnAfter != seqs[2] || again.CopiesAfter != "x" || again.Done ||
		again.Round != 1 || again.Reason != "" {
		t.Fatalf("backfill after a move: %+v", again)
	}
	must(t, s.MoveBackfill(ctx, "a", &federation.Backfill{Round: 1, OwnAfter: seqs[2], CopiesAfter: "y", Done: true}))
	if again, _ = s.StartBackfill(ctx, now); !again.Done || again.CopiesAfter != "y" {
		t.Fatalf("finished backfill reads %+v", again)
	}

	// The parent's side.
	const auth = "11330102MB0000002A"
	const typ = auth + "002"
	ident := func(serial string, v int) certificates.Identifier {
		return certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: serial, Version: v}
	}
	version := func(id certificates.Identifier, st certificates.State, reason, by string, off int64) federation.Change {
		from, _ := certificates.ParseDate("2026-01-01")
		e := exchange.Event{ID: "evt_bf_" + id.String(), Kind: exchange.EventBackfilled, CertificateID: id.String(), Lineage: id.Lineage(),
			Type: typ, Authority: auth, Version: id.Version, Reason: reason, At: t0.Add(time.Minute), HomeHub: "330102"}
		return federation.Change{Event: e, Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(), Type: typ,
			Authority: auth, Version: id.Version, HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"),
			HolderName: "某某公司", ValidFrom: from, State: st, StateReason: reason, SupersededBy: by, DocumentKey: "federated/330102/batches/o1",
			DocumentOffset: off, DocumentLength: 10, DocumentSHA256: "ab", KID: "kid-c", IssuedAt: t0, UpdatedAt: t0.Add(time.Hour)}}
	}
	a1, a2, b1, d1 := ident("000001", 1), ident("000001", 2), ident("000002", 1), ident("000004", 1)
	// d1 arrived by an event first (valid, seq 3); the backfill, marked
	// at 50, says revoked: its scan read what the events up to 50 did,
	// the revocation among them, so the copy takes that state.
	issued := version(d1, certificates.StateValid, "", "", 0)
	issued.Seq, issued.Event.Kind, issued.Event.ID = 3, exchange.EventIssued, "evt_issued_d1"
	_, _, err = s.ApplyPush(ctx, "330102", 0, []federation.Change{issued}, nil, t0)
	must(t, err)
	page := []federation.Change{version(a1, certificates.StateSuperseded, "", a2.String(), 0), version(a2, certificates.StateValid, "", "", 11),
		version(b1, certificates.StateRevoked, "吊销", "", 22), version(d1, certificates.StateRevoked, "吊销", "", 33)}
	// Past the cursor: refused, nothing kept.
	through, _, err := s.ApplyBackfill(ctx, "330102", 4, page, nil, 50, 0, t0)
	mustCode(t, errs.Conflict, err)
	if through != 3 {
		t.Fatalf("refused backfill reports cursor %d", through)
	}
	through, n, err := s.ApplyBackfill(ctx, "330102", 3, page[:2], nil, 50, 0, t0)
	must(t, err)
	if through != 3 || n != 2 {
		t.Fatalf("first page: through %d, %d kept", through, n)
	}
	// The whole page again (a retry) and the last: what is new is kept,
	// a held version whose state differs corrected, and the cursor moves
	// to the backfill's mark.
	through, n, err = s.ApplyBackfill(ctx, "330102", 3, page, nil, 50, 50, t0)
	must(t, err)
	if through != 50 || n != 2 {
		t.Fatalf("second page: through %d, %d kept", through, n)
	}
	// A mark behind the cursor does not move it back.
	if through, _, err = s.ApplyBackfill(ctx, "330102", 50, nil, nil, 20, 20, t0); err != nil || through != 50 {
		t.Fatalf("an old mark: through %d, %v", through, err)
	}
	want := map[string]struct {
		st     certificates.State
		reason string
		by     string
		off    int64
	}{a1.String(): {certificates.StateSuperseded, "", a2.String(), 0}, a2.String(): {certificates.StateValid, "", "", 11},
		b1.String(): {certificates.StateRevoked, "吊销", "", 22}, d1.String(): {certificates.StateRevoked, "吊销", "", 0}}
	vs, err := s.FederatedVersions(ctx, "330102")
	must(t, err)
	if len(vs) != 4 {
		t.Fatalf("%d versions kept", len(vs))
	}
	for _, v := range vs {
		w := want[v.ID]
		if v.State != w.st || v.StateReason != w.reason || v.SupersededBy != w.by || v.DocumentOffset != w.off ||
			v.DocumentKey != "federated/330102/batches/o1" || (v.ID != d1.String() && v.DocumentLength != 10) || v.HolderName != "某某公司" ||
			!v.IssuedAt.Equal(t0) || v.ValidFrom.String() != "2026-01-01" {
			t.Errorf("%s kept as %+v, want %+v", v.ID, v, w)
		}
	}
	// One event per version kept or corrected, of kind backfilled, marked
	// with its hub.
	evs, err = s.EventsAfter(ctx, b.EventsMark, 100, now.Add(time.Hour))
	must(t, err)
	kinds := map[string]string{}
	for _, e := range evs {
		kinds[e.CertificateID] += e.Kind + " "
		if e.HomeHub != "330102" || e.Lineage == "" {
			t.Errorf("event %+v", e)
		}
	}
	if len(evs) != 5 || kinds[a1.String()] != "backfilled " || kinds[b1.String()] != "backfilled " || kinds[d1.String()] != "issued backfilled " {
		t.Fatalf("this hub's outbox after the backfill: %v", kinds)
	}

	// The copies, read by a backfill of this hub's own, in id order.
	copies, err := s.CopiesAfter(ctx, "", 2)
	must(t, err)
	if len(copies) != 2 || copies[0].ID != a1.String() || copies[1].ID != a2.String() {
		t.Fatalf("first copies: %v", copies)
	}
	copies, err = s.CopiesAfter(ctx, copies[1].ID, 10)
	must(t, err)
	if len(copies) != 2 || copies[0].ID != b1.String() || copies[1].ID != d1.String() || copies[0].State != certificates.StateRevoked {
		t.Fatalf("next copies: %d", len(copies))
	}
}

// testFederatedTypes: the definitions a push carries are kept in its
// transaction (a refused push keeps none), one per code, the latest push's
// replacing the one before; a backfill page keeps them too; a holder's
// copies read back by this hub's holder index.
func testFederatedTypes(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const auth = "11330102MB0000002A"
	const typ = auth + "003"
	id := certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: "000001", Version: 1}
	from, _ := certificates.ParseDate("2026-01-01")
	change := func(seq int64, kind string, id certificates.Identifier, holder string) federation.Change {
		e := exchange.Event{ID: fmt.Sprintf("evt_t%d_%s", seq, id.Serial), Kind: kind, CertificateID: id.String(), Lineage: id.Lineage(), Type: typ,
			Authority: auth, Version: id.Version, At: t0, HomeHub: "330102"}
		return federation.Change{Seq: seq, Event: e, Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(),
			Type: typ, Authority: auth, Version: id.Version, HolderKind: certificates.Organisation, HolderIndex: holder, HolderSealed: []byte("s"),
			HolderName: "某某公司", ValidFrom: from, State: certificates.StateValid, DocumentKey: "federated/330102/x", DocumentSHA256: "ab",
			KID: "kid-c", IssuedAt: t0, UpdatedAt: t0}}
	}
	def := func(label string, fields ...string) *exchange.FederatedType {
		ft := &exchange.FederatedType{HomeHub: "330102", UpdatedAt: t0, Type: certificates.Type{Code: typ, Name: "食品经营许可证",
			DefiningAuthority: auth, HolderKind: certificates.Organisation}}
		for _, f := range fields {
			ft.Type.Fields = append(ft.Type.Fields, certificates.Field{Name: f, Label: label, LabelEN: "Permit no.", Type: certificates.FieldString})
		}
		return ft
	}
	_, err := s.FederatedType(ctx, typ)
	mustCode(t, errs.NotFound, err)

	_, _, err = s.ApplyPush(ctx, "330102", 0, []federation.Change{change(10, exchange.EventIssued, id, "hx")},
		[]*exchange.FederatedType{def("许可证编号", "permit_no")}, t0)
	must(t, err)
	got, err := s.FederatedType(ctx, typ)
	must(t, err)
	if got.HomeHub != "330102" || got.Type.Name != "食品经营许可证" || len(got.Type.Fields) != 1 || got.Type.Fields[0].Label != "许可证编号" ||
		got.Type.Fields[0].LabelEN != "Permit no." || got.Type.HolderKind != certificates.Organisation || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("definition read back as %+v", got)
	}
	// A refused push (past the cursor) keeps nothing of its definitions.
	_, _, err = s.ApplyPush(ctx, "330102", 99, nil, []*exchange.FederatedType{def("改过的", "permit_no", "scope")}, t0)
	mustCode(t, errs.Conflict, err)
	if got, _ := s.FederatedType(ctx, typ); len(got.Type.Fields) != 1 {
		t.Fatalf("a refused push changed the definition: %+v", got.Type.Fields)
	}
	// The next push's definition replaces it (the type gained a field).
	later := def("许可证编号", "permit_no", "scope")
	later.UpdatedAt = t0.Add(time.Hour)
	_, _, err = s.ApplyPush(ctx, "330102", 10, nil, []*exchange.FederatedType{later}, t0)
	must(t, err)
	if got, _ := s.FederatedType(ctx, typ); len(got.Type.Fields) != 2 || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("the later definition: %+v", got)
	}
	// A backfill page keeps its definitions too.
	other := def("编号", "no")
	other.Type.Code = auth + "004"
	other.HomeHub = "330103"
	b := change(0, exchange.EventBackfilled, certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: "000002", Version: 1}, "hy")
	_, n, err := s.ApplyBackfill(ctx, "330102", 10, []federation.Change{b}, []*exchange.FederatedType{other}, 0, 0, t0)
	must(t, err)
	if n != 1 {
		t.Fatalf("backfill kept %d", n)
	}
	all, err := s.FederatedTypes(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Type.Code != typ || all[1].Type.Code != auth+"004" || all[1].HomeHub != "330103" {
		t.Fatalf("federated types: %+v", all)
	}
	// A holder's copies, by holder index.
	byHolder, err := s.FederatedByHolder(ctx, "hx")
	must(t, err)
	if len(byHolder) != 1 || byHolder[0].ID != id.String() || byHolder[0].Type != typ {
		t.Fatalf("copies of holder hx: %+v", byHolder)
	}
	none, err := s.FederatedByHolder(ctx, "nobody")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("copies of nobody: %d", len(none))
	}
}
