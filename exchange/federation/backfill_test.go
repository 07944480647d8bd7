package federation_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/signing"
)

// hubs routes pushes to the Receive of the hub a URL names, answering as
// the HTTP API does (200, or 409 with the cursor).
type hubs map[string]*node

func (h hubs) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	n := h[r.URL.Host]
	status, out := http.StatusOK, []byte(nil)
	ans, err := n.svc.Receive(r.Context(), r.Header.Get(federation.HubHeader), r.Header.Get(federation.SignatureHeader), body)
	var pc *federation.PushConflict
	switch {
	case errors.As(err, &pc):
		status = http.StatusConflict
		out, _ = json.Marshal(map[string]any{"error": map[string]any{"applied_through": pc.AppliedThrough}})
	case err != nil:
		status = http.StatusBadRequest
		out, _ = json.Marshal(map[string]any{"error": map[string]any{"message": err.Error()}})
	default:
		out, _ = json.Marshal(ans)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(bytes.NewReader(out)), Header: http.Header{}}, nil
}

// keeper makes n a parent that keeps its children's copies.
func keeper(t *testing.T, n *node) {
	docs, err := filestore.Open(filepath.Join(t.TempDir(), "docs"))
	noErr(t, err)
	m, _ := signing.GenerateMasterKey()
	n.svc.Vault, n.svc.Documents, n.svc.Inbox = signing.NewVault(m), docs, n.store
}

// TestBackfillConverges: certificates a county issued before it pushed
// anything reach the city and, through it, the province by the backfill,
// each once, with its state; the outbox events the backfill covers (up to
// its mark) are not pushed again; a revocation committed while the
// backfill runs — before the scan reads the version, or after — ends
// revoked at both parents; a version the city already holds is left as it
// is; and the city's backfilled copies travel on as events of kind
// backfilled.
func TestBackfillConverges(t *testing.T) {
	c := &clock{time.Now().UTC()}
	prov, city, county, _ := federation3(t, c)
	ctx := context.Background()
	keeper(t, city)
	keeper(t, prov)
	route := &http.Client{Transport: hubs{"city.example": city, "prov.example": prov}}
	city.svc.Client, county.svc.Client = route, route

	// The county's registry: four certificates and a revision, issued
	// before it pushed anything.
	docs, vault, cert := countyRegistry(t, county, c)
	var batch []*certificates.Certificate
	var object bytes.Buffer
	// The first four share one batch object, as the bulk path writes them.
	for i := 1; i <= 4; i++ {
		ct := cert(fmt.Sprintf("%06d", i), 1)
		doc := fakeDocument(ct.ID)
		ct.DocumentKey, ct.DocumentOffset, ct.DocumentLength = "batches/county-1", int64(object.Len()), int64(len(doc))
		object.WriteString(doc + "\n")
		batch = append(batch, ct)
	}
	noErr(t, docs.Put(ctx, "batches/county-1", object.Bytes()))
	noErr(t, county.store.InsertCertificates(ctx, batch))
	a, b, d, e := batch[0], batch[1], batch[2], batch[3]
	a2 := cert(a.Serial, 2)
	a2.DocumentKey = "documents/" + a2.ID
	noErr(t, docs.Put(ctx, a2.DocumentKey, []byte(fakeDocument(a2.ID))))
	noErr(t, county.store.Supersede(ctx, a.ID, a2))
	// The city already holds e (pushed by an event some other way):
	// kept as it is.
	early := pushed(1, exchange.EventIssued, e.Serial, 1)
	early.Event.CertificateID, early.Event.ID = e.ID, "evt_early"
	body := must(json.Marshal(federation.Push{Hub: "330102", Events: []federation.PushedEvent{early}}))
	if _, err := city.svc.Receive(ctx, "330102", must(county.key.SignDetached(body)), body); err != nil {
		t.Fatal(err)
	}

	certs := &certificates.Service{Store: county.store, Vault: vault, Documents: docs}
	agg := &federation.Aggregator{Service: county.svc, Store: county.store, Certs: certs, Documents: docs, Owner: "county-1"}
	cityAgg := &federation.Aggregator{Service: city.svc, Store: city.store, Certs: &certificates.Service{Store: city.store, Vault: city.svc.Vault},
		Documents: city.svc.Documents, Owner: "city-1"}
	push := func(a *federation.Aggregator) int {
		t.Helper()
		n, err := a.PushOnce(ctx)
		noErr(t, err)
		return n
	}
	// The city finishes its own (empty) backfill first: what the county
	// backfills reaches the province through the city's outbox.
	push(cityAgg)
	c.t = c.t.Add(exchange.EventSettle + time.Second)
	push(cityAgg)

	// The county's backfill begins: it marks its outbox and waits for the
	// events up to the mark to settle; nothing is pushed yet.
	if n := push(agg); n != 0 {
		t.Fatalf("pushed %d before the mark settled", n)
	}
	// Revoked before the scan reads it.
	_, err := county.store.SetState(ctx, d.ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "吊销", c.now(), nil)
	noErr(t, err)
	c.t = c.t.Add(exchange.EventSettle + time.Second)
	if n := push(agg); n != 5 {
		t.Fatalf("the backfill pushed %d versions, want 5", n)
	}
	// Revoked after the scan read it (valid), before the events are pushed.
	_, err = county.store.SetState(ctx, b.ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "注销", c.now(), nil)
	noErr(t, err)
	c.t = c.t.Add(time.Second)
	if n := push(agg); n != 2 {
		t.Fatalf("after the backfill, %d events were applied; want the two revocations", n)
	}
	want := map[string]certificates.State{a.ID: certificates.StateSuperseded, a2.ID: certificates.StateValid, b.ID: certificates.StateRevoked,
		d.ID: certificates.StateRevoked, e.ID: certificates.StateValid}
	check := func(n *node, what string) {
		t.Helper()
		vs := must(n.store.FederatedVersions(ctx, "330102"))
		if len(vs) != len(want) {
			t.Fatalf("%s holds %d versions, want %d", what, len(vs), len(want))
		}
		for _, v := range vs {
			if v.State != want[v.ID] {
				t.Errorf("%s: %s is %s, want %s", what, v.ID, v.State, want[v.ID])
			}
			doc := must(n.svc.Documents.GetRange(ctx, v.DocumentKey, v.DocumentOffset, v.DocumentLength))
			if string(doc) != fakeDocument(v.ID) || v.DocumentLength == 0 {
				t.Errorf("%s: the document of %s reads back as %q", what, v.ID, doc)
			}
		}
		if v := must(n.store.FederatedVersion(ctx, a.ID)); v.SupersededBy != a2.ID {
			t.Errorf("%s: %s superseded by %q", what, a.ID, v.SupersededBy)
		}
	}
	check(city, "the city")
	// The city's outbox: the early issuance, four backfilled versions (e
	// was held already) and the two revocations; none of the county's
	// events up to the mark (its issuances and the supersession).
	evs := must(city.store.EventsAfter(ctx, 0, 100, c.now().Add(time.Hour)))
	kinds := map[string]int{}
	for _, ev := range evs {
		kinds[ev.Kind]++
	}
	if len(evs) != 7 || kinds[exchange.EventBackfilled] != 4 || kinds[exchange.EventRevoked] != 2 || kinds[exchange.EventIssued] != 1 {
		t.Fatalf("the city's outbox: %v", kinds)
	}
	if cur := must(city.store.InboxCursors(ctx)); cur["330102"] != must(county.store.EventsAfter(ctx, 0, 100, c.now().Add(time.Hour)))[6].Seq {
		t.Fatalf("the city applied the county's outbox through %d", cur["330102"])
	}

	// Up to the province: the city's outbox, backfilled versions with
	// their state included.
	for push(cityAgg) > 0 {
	}
	check(prov, "the province")
	// The county's type definition travelled with its versions, and on
	// from the city with the copies it passed on.
	for _, n := range []*node{city, prov} {
		if ft, err := n.store.FederatedType(ctx, a.Type); err != nil || ft.HomeHub != "330102" || len(ft.Type.Fields) == 0 {
			t.Errorf("the definition of %s: %+v %v", a.Type, ft, err)
		}
	}
	pe := must(prov.store.EventsAfter(ctx, 0, 100, c.now().Add(time.Hour)))
	if len(pe) != 7 || pe[1].Kind != exchange.EventBackfilled || pe[1].HomeHub != "330102" {
		t.Fatalf("the province's outbox: %d events", len(pe))
	}

	// A county that pushes again from the start (say, a restored cursor)
	// changes nothing: the city keeps what it has.
	before := must(city.store.FederatedVersions(ctx, "330102"))
	body = must(json.Marshal(federation.Push{Hub: "330102", Backfill: []federation.PushedEvent{backfilled(b, certificates.StateValid)}}))
	ans, err := city.svc.Receive(ctx, "330102", must(county.key.SignDetached(body)), body)
	if err != nil || ans.Applied != 0 {
		t.Fatalf("a version backfilled again: %+v %v", ans, err)
	}
	if after := must(city.store.FederatedVersions(ctx, "330102")); len(after) != len(before) || must(city.store.FederatedVersion(ctx, b.ID)).State != certificates.StateRevoked {
		t.Fatal("a version backfilled again changed the copy")
	}
}

// countyRegistry gives the county an authority, a licence type and a
// document key, and returns its document store, vault and a maker of
// certificate versions (whose document is fakeDocument).
func countyRegistry(t *testing.T, county *node, c *clock) (*filestore.Store, *signing.Vault, func(serial string, version int) *certificates.Certificate) {
	t.Helper()
	ctx := context.Background()
	docs, err := filestore.Open(filepath.Join(t.TempDir(), "county-docs"))
	noErr(t, err)
	m, _ := signing.GenerateMasterKey()
	vault := signing.NewVault(m)
	typ := countyUSCC + "002"
	noErr(t, county.store.CreateAuthority(ctx, &certificates.Authority{Code: countyUSCC, Name: "上城区市场监督管理局", CreatedAt: c.now()}))
	days := 1825
	noErr(t, county.store.CreateType(ctx, &certificates.Type{Code: typ, Name: "食品经营许可证", DefiningAuthority: countyUSCC,
		HolderKind: certificates.Organisation, MaxValidityDays: &days, CreatedAt: c.now(),
		Fields: []certificates.Field{{Name: "permit_no", Label: "许可证编号", Type: certificates.FieldString, Required: true}}}))
	noErr(t, county.store.InsertKey(ctx, &signing.Key{KID: "kid-county", Authority: countyUSCC, Algorithm: signing.ES256,
		PublicJWK: []byte(`{"kty":"EC"}`), Backend: "local", Sealed: []byte{1}, Status: signing.KeyActive, CreatedAt: c.now()}))
	return docs, vault, func(serial string, version int) *certificates.Certificate {
		ident := certificates.Identifier{TypeCode: typ, Issuer: countyUSCC, Serial: serial, Version: version}
		from, _ := certificates.ParseDate("2026-01-01")
		holder := certificates.Holder{Kind: certificates.Organisation, ID: "91330102MA0000001X", Name: "杭州某某餐饮有限公司"}
		doc := []byte(fakeDocument(ident.String()))
		sum := sha256.Sum256(doc)
		return &certificates.Certificate{ID: ident.String(), Ident: ident, Type: typ, Authority: countyUSCC, Serial: serial, Version: version,
			Holder: holder, HolderIndex: vault.Index("organisation", holder.ID), HolderSealed: vault.Seal("organisation", holder.ID),
			Data: map[string]any{"permit_no": "JY" + serial}, ValidFrom: from, State: certificates.StateValid,
			DocumentSHA256: hex.EncodeToString(sum[:]), KID: "kid-county", IssuedAt: c.now(), UpdatedAt: c.now()}
	}
}

// TestBackfillResumes: the backfill's place survives its replica: a
// successor takes the push lease once it runs out and goes on from the
// last page the parent applied; a page sent again (the parent applied
// it, the child did not record so) keeps nothing twice; the last page
// moves the parent's cursor past the events it covers.
func TestBackfillResumes(t *testing.T) {
	c := &clock{time.Now().UTC()}
	_, city, county, _ := federation3(t, c)
	ctx := context.Background()
	keeper(t, city)
	county.svc.Client = &http.Client{Transport: hubs{"city.example": city}}
	docs, vault, cert := countyRegistry(t, county, c)
	var all []*certificates.Certificate
	for i := 1; i <= 5; i++ {
		ct := cert(fmt.Sprintf("%06d", i), 1)
		ct.DocumentKey = "documents/" + ct.ID // one object each, as single issuance writes them
		noErr(t, docs.Put(ctx, ct.DocumentKey, []byte(fakeDocument(ct.ID))))
		all = append(all, ct)
	}
	noErr(t, county.store.InsertCertificates(ctx, all))
	certs := &certificates.Service{Store: county.store, Vault: vault, Documents: docs}
	replica := func(owner string) *federation.Aggregator {
		return &federation.Aggregator{Service: county.svc, Store: county.store, Certs: certs, Documents: docs, Owner: owner, Page: 2}
	}
	push := func(a *federation.Aggregator) int {
		t.Helper()
		n, err := a.PushOnce(ctx)
		noErr(t, err)
		return n
	}
	held := func() int { return len(must(city.store.FederatedVersions(ctx, "330102"))) }
	r1, r2 := replica("r1"), replica("r2")
	push(r1) // marks the outbox
	c.t = c.t.Add(exchange.EventSettle + time.Second)
	if n := push(r1); n != 2 || held() != 2 {
		t.Fatalf("first page: %d pushed, the city holds %d", n, held())
	}
	// r1 dies. r2 waits for its lease, then goes on from the next page.
	if n := push(r2); n != 0 {
		t.Fatalf("a second replica pushed %d under the first one's lease", n)
	}
	c.t = c.t.Add(federation.DefaultPushLease + time.Second)
	if n := push(r2); n != 2 || held() != 4 {
		t.Fatalf("second page, by the successor: %d pushed, the city holds %d", n, held())
	}
	// The child loses its record of the second page: it is sent again and
	// the city keeps nothing twice.
	_, seqs, err := county.store.OwnVersionsAfter(ctx, 0, 2)
	noErr(t, err)
	b := must(county.store.StartBackfill(ctx, c.now()))
	b.OwnAfter = seqs[1]
	noErr(t, county.store.MoveBackfill(ctx, "r2", b))
	if n := push(r2); n != 2 || held() != 4 {
		t.Fatalf("the second page again: %d pushed, the city holds %d", n, held())
	}
	if n := push(r2); n != 1 || held() != 5 {
		t.Fatalf("last page: %d pushed, the city holds %d", n, held())
	}
	kept := 0
	for _, e := range must(city.store.EventsAfter(ctx, 0, 100, c.now().Add(time.Hour))) {
		if e.Kind == exchange.EventBackfilled {
			kept++
		}
	}
	if kept != 5 {
		t.Fatalf("the city's outbox holds %d backfilled events, want 5", kept)
	}
	// Done: the parent's cursor is at the mark, and the issuance events the
	// backfill covered are not pushed.
	if cur := must(city.store.InboxCursors(ctx)); cur["330102"] != b.EventsMark || b.EventsMark != 5 {
		t.Fatalf("the city's cursor for the county: %d, the mark %d", cur["330102"], b.EventsMark)
	}
	if n := push(r2); n != 0 {
		t.Fatalf("after the backfill, %d events pushed", n)
	}
	if b := must(county.store.StartBackfill(ctx, c.now())); !b.Done {
		t.Fatal("the backfill is not recorded done")
	}
}

// backfilled is c as a page of the backfill carries it, in state st.
func backfilled(c *certificates.Certificate, st certificates.State) federation.PushedEvent {
	return federation.PushedEvent{Lineage: c.Ident.Lineage(), Event: exchange.Event{ID: "evt_bf_" + c.ID, Kind: exchange.EventBackfilled,
		CertificateID: c.ID, Type: c.Type, Authority: c.Authority, Version: c.Version, At: c.UpdatedAt},
		Version: &federation.PushedVersion{ValidFrom: c.ValidFrom, KID: c.KID, IssuedAt: c.IssuedAt, Document: fakeDocument(c.ID), State: st}}
}
