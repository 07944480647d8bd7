package federation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/signing"
)

// countyUSCC is an authority registered in 330102.
var countyUSCC = func() string {
	f := "11330102MB0000002"
	return f + string(certificates.USCCCheck(f))
}()

// fakeDocument is a compact JWS-shaped document with the claims a push is
// checked against (the parent does not re-verify the authority's seal on
// arrival: the push is signed by the child, and the document is verified
// with the home hub's trust list wherever it is verified).
func fakeDocument(id string) string {
	p, _ := json.Marshal(map[string]any{"id": id, "credentialSubject": map[string]any{
		"holder": map[string]string{"kind": "organisation", "id": "91330102MA0000001X", "name": "杭州某某餐饮有限公司"}}})
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}

func pushed(seq int64, kind string, serial string, version int) federation.PushedEvent {
	id := certificates.Identifier{TypeCode: countyUSCC + "002", Issuer: countyUSCC, Serial: serial, Version: version}
	pe := federation.PushedEvent{Seq: seq, Lineage: id.Lineage(), Event: exchange.Event{ID: "evt_" + serial + kind, Kind: kind,
		CertificateID: id.String(), Type: id.TypeCode, Authority: countyUSCC, Version: version, At: time.Now().UTC()}}
	if kind == exchange.EventIssued || kind == exchange.EventRevised {
		from, _ := certificates.ParseDate("2026-01-01")
		pe.Version = &federation.PushedVersion{ValidFrom: from, KID: "kid-county", IssuedAt: time.Now().UTC(), Document: fakeDocument(id.String())}
	}
	return pe
}

// TestPushRefused: the city refuses a push that is not its child's, not
// signed by the child's admitted key, out of order, of another region, or
// inconsistent, and stores nothing of it; a good push is applied once.
func TestPushRefused(t *testing.T) {
	c := &clock{time.Now()}
	_, city, county, _ := federation3(t, c)
	ctx := context.Background()
	docs, err := filestore.Open(filepath.Join(t.TempDir(), "docs"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := signing.GenerateMasterKey()
	city.svc.Vault, city.svc.Documents, city.svc.Inbox = signing.NewVault(m), docs, city.store

	send := func(hub string, key *signing.HubKey, p federation.Push) (*federation.PushAnswer, error) {
		body := must(json.Marshal(p))
		sig := must(key.SignDetached(body))
		return city.svc.Receive(ctx, hub, sig, body)
	}
	good := federation.Push{Hub: "330102", Events: []federation.PushedEvent{pushed(1, exchange.EventIssued, "000001", 1),
		pushed(2, exchange.EventRevoked, "000001", 1)}}
	stranger := newNode(t, c)
	check := func(name string, err error, code errs.Code, reason string) {
		t.Helper()
		if !errs.Is(err, code) || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want %s with %q", name, err, code, reason)
		}
	}
	_, err = send("330106", stranger.key, good)
	check("not a child", err, errs.Forbidden, "not a child")
	_, err = send("330102", stranger.key, good)
	check("another key", err, errs.Unauthorized, "not signed by hub 330102")
	body := must(json.Marshal(good))
	_, err = city.svc.Receive(ctx, "330102", must(county.key.SignDetached(append(body, ' '))), body)
	check("signature over another body", err, errs.Unauthorized, "not signed")

	bad := good
	bad.Events = []federation.PushedEvent{pushed(2, exchange.EventIssued, "000001", 1), pushed(1, exchange.EventIssued, "000002", 1)}
	_, err = send("330102", county.key, bad)
	check("out of order", err, errs.Invalid, "outbox order")
	other := pushed(1, exchange.EventIssued, "000003", 1)
	other.Event.HomeHub = "330106"
	bad.Events = []federation.PushedEvent{other}
	_, err = send("330102", county.key, bad)
	check("another county's event", err, errs.Invalid, "outside_region")
	foreign := pushed(1, exchange.EventIssued, "000004", 1)
	foreign.Event.Authority = "11330100MB0000001R"
	bad.Events = []federation.PushedEvent{foreign}
	_, err = send("330102", county.key, bad)
	check("the city's authority", err, errs.Invalid, "outside_region")
	wrongDoc := pushed(1, exchange.EventIssued, "000005", 1)
	wrongDoc.Version.Document = fakeDocument(strings.Replace(wrongDoc.Event.CertificateID, "000005", "000006", 1))
	bad.Events = []federation.PushedEvent{wrongDoc}
	_, err = send("330102", county.key, bad)
	check("a document pushed as another version", err, errs.Invalid, "pushed as")
	noVersion := pushed(1, exchange.EventIssued, "000007", 1)
	noVersion.Version = nil
	bad.Events = []federation.PushedEvent{noVersion}
	_, err = send("330102", county.key, bad)
	check("an issuance without its version", err, errs.Invalid, "carries a version")
	stated := pushed(1, exchange.EventIssued, "000009", 1)
	stated.Version.State = certificates.StateRevoked
	bad.Events = []federation.PushedEvent{stated}
	_, err = send("330102", county.key, bad)
	check("an issuance with a state", err, errs.Invalid, "only a backfilled version carries its state")

	// Pages of the backfill.
	bf := func(serial string, st certificates.State, by string) federation.PushedEvent {
		pe := pushed(0, exchange.EventBackfilled, serial, 1)
		pe.Version = &federation.PushedVersion{KID: "kid-county", IssuedAt: time.Now().UTC(), Document: fakeDocument(pe.Event.CertificateID),
			State: st, SupersededBy: by}
		return pe
	}
	both := federation.Push{Hub: "330102", Events: good.Events, Backfill: []federation.PushedEvent{bf("000010", certificates.StateValid, "")}}
	_, err = send("330102", county.key, both)
	check("events and a backfill", err, errs.Invalid, "backfill: a push carries events or a page of the backfill, not both")
	withSeq := bf("000011", certificates.StateValid, "")
	withSeq.Seq = 4
	_, err = send("330102", county.key, federation.Push{Hub: "330102", Backfill: []federation.PushedEvent{withSeq}})
	check("a backfilled version with a seq", err, errs.Invalid, "backfill[0]: seq")
	issuedInPage := pushed(0, exchange.EventIssued, "000012", 1)
	_, err = send("330102", county.key, federation.Push{Hub: "330102", Backfill: []federation.PushedEvent{issuedInPage}})
	check("an issuance in a page of the backfill", err, errs.Invalid, "backfill[0]: event.kind")
	for name, pe := range map[string]federation.PushedEvent{
		"version.state: \"\" is not":                 bf("000013", "", ""),
		"version.state: \"lost\" is not":             bf("000013", "lost", ""),
		"version.superseded_by: a revoked version":   bf("000013", certificates.StateRevoked, "x"),
		"version.superseded_by: \"\" is not a later": bf("000013", certificates.StateSuperseded, ""),
		"is not a later version of":                  bf("000013", certificates.StateSuperseded, pushed(0, "", "000013", 1).Event.CertificateID),
	} {
		_, err = send("330102", county.key, federation.Push{Hub: "330102", Backfill: []federation.PushedEvent{pe}})
		check(name, err, errs.Invalid, name)
	}
	_, err = send("330102", county.key, federation.Push{Hub: "330102", BackfillThrough: -1})
	check("a negative mark", err, errs.Invalid, "backfill_through")
	_, err = send("330102", county.key, federation.Push{Hub: "330102", BackfillMark: 7, BackfillThrough: 9,
		Backfill: []federation.PushedEvent{bf("000014", certificates.StateValid, "")}})
	check("a last page whose mark is not where it moves the cursor", err, errs.Invalid, "backfill_mark")
	twice := bf("000015", certificates.StateValid, "")
	_, err = send("330102", county.key, federation.Push{Hub: "330102", Backfill: []federation.PushedEvent{twice, twice}})
	check("a version twice in a page", err, errs.Invalid, "backfill[1]: event.certificate_id")
	if vs := must(city.store.FederatedVersions(ctx, "330102")); len(vs) != 0 {
		t.Fatalf("refused pushes stored %d versions", len(vs))
	}

	ans, err := send("330102", county.key, good)
	if err != nil || ans.AppliedThrough != 2 || ans.Applied != 2 {
		t.Fatalf("good push: %+v %v", ans, err)
	}
	ans, err = send("330102", county.key, good)
	if err != nil || ans.AppliedThrough != 2 || ans.Applied != 0 {
		t.Fatalf("the same push again: %+v %v", ans, err)
	}
	v := must(city.store.FederatedVersion(ctx, good.Events[0].Event.CertificateID))
	if v.State != certificates.StateRevoked || v.HolderIndex != city.svc.Vault.Index("organisation", "91330102MA0000001X") {
		t.Fatalf("stored as %+v", v)
	}
	// Kept in one object for the push, each document its byte range.
	if doc := must(docs.GetRange(ctx, v.DocumentKey, v.DocumentOffset, v.DocumentLength)); string(doc) != good.Events[0].Version.Document ||
		v.DocumentLength == 0 {
		t.Fatal("the document is not kept as pushed")
	}
	later := federation.Push{Hub: "330102", After: 5, Events: []federation.PushedEvent{pushed(6, exchange.EventIssued, "000008", 1)}}
	_, err = send("330102", county.key, later)
	var pc *federation.PushConflict
	if !errors.As(err, &pc) || pc.AppliedThrough != 2 {
		t.Fatalf("a push after a gap: %v", err)
	}
}

// countyType is the definition of the county's type pushed() events name.
func countyType() federation.PushedType {
	return federation.PushedType{Code: countyUSCC + "002", Name: "食品经营许可证", DefiningAuthority: countyUSCC, HolderKind: certificates.Organisation,
		Fields: []federation.PushedField{{Name: "permit_no", Label: "许可证编号", LabelEN: "Permit no.", Type: certificates.FieldString}}}
}

// TestPushTypes: a push carries the definitions of the types its events
// name; the parent keeps each in the push's transaction, refuses the push
// for a definition of a type no event names or one that is not a valid
// definition (naming the field), and keeps its own definition of a code it
// defines itself, saying so in its answer while applying the push.
func TestPushTypes(t *testing.T) {
	c := &clock{time.Now()}
	_, city, county, _ := federation3(t, c)
	ctx := context.Background()
	docs := must(filestore.Open(filepath.Join(t.TempDir(), "docs")))
	m, _ := signing.GenerateMasterKey()
	city.svc.Vault, city.svc.Documents, city.svc.Inbox = signing.NewVault(m), docs, city.store
	send := func(p federation.Push) (*federation.PushAnswer, error) {
		body := must(json.Marshal(p))
		return city.svc.Receive(ctx, "330102", must(county.key.SignDetached(body)), body)
	}
	events := []federation.PushedEvent{pushed(1, exchange.EventIssued, "000001", 1)}
	for name, tc := range map[string]struct {
		mutate func(*federation.PushedType)
		reason string
	}{
		"a type no event names": {func(pt *federation.PushedType) { pt.Code = countyUSCC + "009" }, `types[0].code: no event of this push is of type`},
		"a bad field name":      {func(pt *federation.PushedType) { pt.Fields[0].Name = "Permit No" }, `types[0].fields[0].name`},
		"a control character":   {func(pt *federation.PushedType) { pt.Fields[0].Label = "许可\u0007证" }, `types[0].fields[0].label`},
		"invalid UTF-8":         {func(pt *federation.PushedType) { pt.Name = "食品\xff" }, `types[0].name`},
		"no fields":             {func(pt *federation.PushedType) { pt.Fields = nil }, `types[0].fields`},
		"an unknown field type": {func(pt *federation.PushedType) { pt.Fields[0].Type = "blob" }, `types[0].fields[0].type`},
		"another body's code":   {func(pt *federation.PushedType) { pt.DefiningAuthority = "11330100MB0000001R" }, `types[0].code`},
	} {
		pt := countyType()
		tc.mutate(&pt)
		_, err := send(federation.Push{Hub: "330102", Events: events, Types: []federation.PushedType{pt}})
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want invalid with %q", name, err, tc.reason)
		}
	}
	if vs := must(city.store.FederatedVersions(ctx, "330102")); len(vs) != 0 {
		t.Fatalf("a push refused for its types stored %d versions", len(vs))
	}
	twice := federation.Push{Hub: "330102", Events: events, Types: []federation.PushedType{countyType(), countyType()}}
	if _, err := send(twice); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "types[1].code") {
		t.Errorf("a type defined twice: %v", err)
	}

	ans, err := send(federation.Push{Hub: "330102", Events: events, Types: []federation.PushedType{countyType()}})
	if err != nil || ans.Applied != 1 || len(ans.RefusedTypes) != 0 {
		t.Fatalf("good push: %+v %v", ans, err)
	}
	ft := must(city.store.FederatedType(ctx, countyUSCC+"002"))
	if ft.HomeHub != "330102" || ft.Type.Fields[0].Name != "permit_no" || ft.Type.Fields[0].LabelEN != "Permit no." {
		t.Fatalf("kept as %+v", ft)
	}

	// The city defines a type of its own; a push naming its code applies,
	// but the city keeps its definition and says why.
	city.authority(t, countyUSCC)
	own := &certificates.Type{Code: countyUSCC + "005", Name: "城市自己的类型", DefiningAuthority: countyUSCC, HolderKind: certificates.Organisation,
		Fields: []certificates.Field{{Name: "no", Label: "编号", Type: certificates.FieldString}}, CreatedAt: time.Now().UTC()}
	if err := city.store.CreateType(ctx, own); err != nil {
		t.Fatal(err)
	}
	ev := pushed(2, exchange.EventIssued, "000002", 1)
	id := certificates.Identifier{TypeCode: own.Code, Issuer: countyUSCC, Serial: "000002", Version: 1}
	ev.Event.Type, ev.Event.CertificateID, ev.Lineage = own.Code, id.String(), id.Lineage()
	ev.Version.Document = fakeDocument(id.String())
	pt := countyType()
	pt.Code, pt.Name = own.Code, "县里改过的定义"
	ans, err = send(federation.Push{Hub: "330102", After: 1, Events: []federation.PushedEvent{ev}, Types: []federation.PushedType{pt}})
	if err != nil || ans.Applied != 1 || len(ans.RefusedTypes) != 1 || ans.RefusedTypes[0].Code != own.Code ||
		!strings.Contains(ans.RefusedTypes[0].Reason, "one of this hub's own types") {
		t.Fatalf("a push defining the city's own type: %+v %v", ans, err)
	}
	if _, err := city.store.FederatedType(ctx, own.Code); !errs.Is(err, errs.NotFound) {
		t.Fatalf("the city's own type was kept as federated: %v", err)
	}
	if got := must(city.store.GetType(ctx, own.Code)); got.Name != "城市自己的类型" {
		t.Fatalf("the city's own type became %q", got.Name)
	}
}
