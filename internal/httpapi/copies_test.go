package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
)

// permitType is a type only the county defines: at the city its copies are
// served by the definition the county pushed.
const permitType = otherCode + "007"

// copyFixture is a city hub that keeps copies a county (another hub)
// pushed: documents the county's authority really sealed, applied to the
// city's store as a push applies them.
type copyFixture struct {
	city, county *hub
	seq          int64
}

func newCopyFixture(t *testing.T) *copyFixture {
	t.Helper()
	f := &copyFixture{city: newHub(t), county: newHub(t)}
	f.city.seed() // the city defines the licence type, not permitType
	f.county.seed()
	typ := map[string]any{"code": permitType, "name": "食品经营许可证", "defining_authority": otherCode, "holder_kind": "organisation",
		"fields": []map[string]any{
			{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true},
			{"name": "business_scope", "label": "经营项目", "label_en": "Business scope", "type": "string", "required": true, "shareable": true}}}
	if st := f.county.call("POST", "/api/v1/types", f.county.Admin, typ, nil); st != 201 {
		t.Fatalf("county type: %d", st)
	}
	return f
}

// issue issues a permit at the county and pushes it to the city; it
// returns its id.
func (f *copyFixture) issue(t *testing.T, holder, permitNo string) string {
	t.Helper()
	var c struct{ ID, Document string }
	body := map[string]any{"type": permitType, "authority": otherCode,
		"holder": map[string]string{"kind": "organisation", "id": holder, "name": "杭州某某餐饮有限公司"},
		"data":   map[string]any{"permit_no": permitNo, "business_scope": "热食类食品制售"}, "valid_from": "2026-01-01", "valid_until": "2031-12-31"}
	if st := f.county.call("POST", "/api/v1/certificates", f.county.Admin, body, &c); st != 201 {
		t.Fatalf("county issue: %d", st)
	}
	f.pushVersion(t, c.ID, c.Document, holder, exchange.EventIssued)
	return c.ID
}

// revise revises a permit at the county and pushes the new version; it
// returns its id.
func (f *copyFixture) revise(t *testing.T, id, holder, permitNo string) string {
	t.Helper()
	var c struct{ ID, Document string }
	body := map[string]any{"data": map[string]any{"permit_no": permitNo, "business_scope": "热食类食品制售"}, "reason": "换证"}
	if st := f.county.call("POST", "/api/v1/certificates/"+id+"/revisions", f.county.Admin, body, &c); st != 201 {
		t.Fatalf("county revise: %d", st)
	}
	f.pushVersion(t, c.ID, c.Document, holder, exchange.EventRevised)
	return c.ID
}

// pushVersion pushes an issued or revised version with its document, as
// the county's aggregation would.
func (f *copyFixture) pushVersion(t *testing.T, certID, document, holder, kind string) {
	t.Helper()
	c := struct{ ID, Document string }{certID, document}
	ctx := context.Background()
	id, _ := certificates.ParseIdentifier(c.ID)
	key := "federated/330102/batches/" + c.ID + ".jwsl"
	if err := f.city.Certs.Documents.Put(ctx, key, []byte(c.Document)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(c.Document))
	def, err := f.county.Certs.Type(ctx, permitType)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	from, _ := certificates.ParseDate("2026-01-01")
	until, _ := certificates.ParseDate("2031-12-31")
	f.push(t, federation.Change{Event: exchange.Event{ID: "evt_" + c.ID, Kind: kind, CertificateID: c.ID, Lineage: id.Lineage(),
		Type: permitType, Authority: otherCode, Version: id.Version, At: now, HomeHub: "330102"},
		Version: &federation.Version{ID: c.ID, HomeHub: "330102", Lineage: id.Lineage(), Type: permitType, Authority: otherCode, Version: id.Version,
			HolderKind: certificates.Organisation, HolderIndex: f.city.Certs.Vault.Index("organisation", holder), HolderSealed: []byte("sealed"),
			HolderName: "杭州某某餐饮有限公司", ValidFrom: from, ValidUntil: until, State: certificates.StateValid, DocumentKey: key,
			DocumentSHA256: hex.EncodeToString(sum[:]), KID: "kid", IssuedAt: now, UpdatedAt: now}},
		&exchange.FederatedType{HomeHub: "330102", Type: *def, UpdatedAt: now})
}

// push applies one change (and a type definition) at the city after the
// last.
func (f *copyFixture) push(t *testing.T, ch federation.Change, def *exchange.FederatedType) {
	t.Helper()
	f.seq++
	ch.Seq = f.seq
	var defs []*exchange.FederatedType
	if def != nil {
		defs = append(defs, def)
	}
	if _, n, err := f.city.Store.ApplyPush(context.Background(), "330102", f.seq-1, []federation.Change{ch}, defs, time.Now()); err != nil || n != 1 {
		t.Fatalf("push: %d %v", n, err)
	}
}

type copyView struct {
	ID, Type, Status, Source string
	StatusCode               string `json:"status_code"`
	Agreement                string
	Holder                   certificates.Holder
	Data                     map[string]any
	Hub                      *struct{ ID, Name string }
}

// TestCopiesServed: a city's department system finds the copies of a
// county's licences the city keeps, under the city's own agreement for
// the county's type: in lookups by holder, reads by id, matches and
// resolves, minimised to the granted field, marked with the county and
// source aggregated, a revoked copy revoked, and recorded in the city's
// ledger. A department the city has not agreed to serve sees none of them.
func TestCopiesServed(t *testing.T) {
	t.Parallel()
	f := newCopyFixture(t)
	h := f.city
	copyID := f.issue(t, companyID, "JY3301020001")
	revoked := f.issue(t, org(7), "JY3301020002")
	id, _ := certificates.ParseIdentifier(revoked)
	f.push(t, federation.Change{Event: exchange.Event{ID: "evt_revoke", Kind: exchange.EventRevoked, CertificateID: revoked, Lineage: id.Lineage(),
		Type: permitType, Authority: otherCode, Version: 1, Reason: "吊销", At: time.Now().UTC(), HomeHub: "330102"}}, nil)

	served, key := h.newConsumer("市级受理平台")
	agr := h.agreement(served, exchange.Grant{Type: permitType, Fields: []string{"permit_no"}}, "SX-001")
	other, otherKey := h.newConsumer("另一个系统")
	h.agreement(other, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "2026-SJ-1"}

	var found struct{ Certificates []copyView }
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, key, nil, &found, hdr...); st != 200 || len(found.Certificates) != 1 {
		t.Fatalf("lookup by the served department: %d %+v", st, found)
	}
	c := found.Certificates[0]
	if c.ID != copyID || c.Source != "aggregated" || c.Hub == nil || c.Hub.ID != "330102" || c.Status != "valid" || c.StatusCode != "01" ||
		c.Agreement != agr || len(c.Data) != 1 || c.Data["permit_no"] != "JY3301020001" || c.Holder.Name != "" {
		t.Fatalf("the copy as the department sees it: %+v", c)
	}
	e := h.ledger()
	last := e[len(e)-1]
	if last.Action != "lookup" || last.Agreement != agr || !slices.Equal(last.Fields, []string{"permit_no"}) ||
		last.Holder != h.Certs.Vault.Index("organisation", companyID) || !slices.Equal(last.Certificates, []string{copyID}) {
		t.Fatalf("ledger: %+v", last)
	}
	// By type too; and the revoked one is shown revoked.
	if st := h.call("GET", "/api/v1/certificates?type="+permitType+"&holder_id="+org(7), key, nil, &found, hdr...); st != 200 ||
		len(found.Certificates) != 1 || found.Certificates[0].Status != "revoked" || found.Certificates[0].StatusCode != "03" {
		t.Fatalf("the revoked copy: %d %+v", st, found)
	}
	// A department whose agreements do not cover the type sees nothing of
	// it, and cannot ask for it by type or id.
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, otherKey, nil, &found, hdr...); st != 200 || len(found.Certificates) != 0 {
		t.Fatalf("lookup by a department without the agreement: %d %+v", st, found)
	}
	if st := h.call("GET", "/api/v1/certificates?type="+permitType+"&holder_id="+companyID, otherKey, nil, nil, hdr...); st != 403 {
		t.Fatalf("lookup of the type without the agreement: %d", st)
	}

	// Read by id, and its document, as each role may.
	var one copyView
	if st := h.call("GET", "/api/v1/certificates/"+copyID, key, nil, &one, hdr...); st != 200 || one.Hub == nil || one.Data["business_scope"] != nil ||
		one.Data["permit_no"] != "JY3301020001" {
		t.Fatalf("read the copy: %d %+v", st, one)
	}
	issuer := h.token(exchange.RoleIssuer, marketCode)
	for name, tc := range map[string]struct {
		token string
		want  int
	}{"admin": {h.Admin, 200}, "served": {key, 200}, "not served": {otherKey, 403}, "another authority's issuer": {issuer, 403},
		"clerk": {h.token(exchange.RoleClerk, ""), 403}, "anonymous": {"", 401}} {
		if st := h.call("GET", "/api/v1/certificates/"+copyID, tc.token, nil, nil, hdr...); st != tc.want {
			t.Errorf("%s reads the copy: %d, want %d", name, st, tc.want)
		}
	}
	if st := h.call("GET", "/api/v1/certificates/"+copyID+"/document", key, nil, nil, hdr...); st != 403 {
		t.Errorf("the document without a grant of it: %d", st)
	}
	st, _, doc := h.fetch("/api/v1/certificates/"+copyID+"/document", h.Admin)
	var county struct{ Document string }
	f.county.call("GET", "/api/v1/certificates/"+copyID, f.county.Admin, nil, &county)
	if _, _, want := f.county.fetch("/api/v1/certificates/"+copyID+"/document", f.county.Admin); st != 200 || string(doc) != string(want) {
		t.Errorf("the copy's document: %d, as the county sealed it: %v", st, string(doc) == string(want))
	}

	// Match against the copy: only the granted field is compared.
	var m struct {
		Result        string
		Fields        map[string]string
		CertificateID string `json:"certificate_id"`
		Hub           *struct{ ID string }
	}
	body := map[string]any{"type": permitType, "holder_id": companyID, "fields": map[string]any{"permit_no": "jy3301020001", "business_scope": "x"}}
	if st := h.call("POST", "/api/v1/match", key, body, &m, hdr...); st != 200 || m.Result != "valid" || m.CertificateID != copyID ||
		m.Fields["permit_no"] != "match" || m.Fields["business_scope"] != "not_permitted" || m.Hub == nil || m.Hub.ID != "330102" {
		t.Fatalf("match: %d %+v", st, m)
	}
	body["holder_id"] = org(7)
	if st := h.call("POST", "/api/v1/match", key, body, &m, hdr...); st != 200 || m.Result != "invalid" {
		t.Fatalf("match against the revoked copy: %d %+v", st, m)
	}
	if st := h.call("POST", "/api/v1/match", otherKey, body, nil, hdr...); st != 403 {
		t.Fatalf("match without the agreement: %d", st)
	}

	// A service item naming the county's type resolves from the copy.
	item := fmt.Sprintf(`
- code: CITY-SP-1
  name: 食品经营许可 延续
  department: 杭州市市场监督管理局
  materials:
    - name: 原食品经营许可证
      certificate: true
      types: [%s]
      fields: [permit_no]
      legal_basis: 《食品经营许可和备案管理办法》
`, permitType)
	if st := h.call("POST", "/api/v1/service-items", h.Admin, item, nil, "Content-Type", "application/yaml"); st != 200 {
		t.Fatalf("import an item naming the county's type: %d", st)
	}
	var res struct {
		Materials []struct {
			Outcome, Agreement string
			Certificate        *struct {
				ID     string
				Fields map[string]any
			}
			Hub *struct{ ID string }
		}
	}
	resolve := func(key, holder string) {
		t.Helper()
		body := map[string]any{"applicant": map[string]string{"id": holder}, "case_id": "2026-SJ-2", "purpose": "SX-001"}
		if st := h.call("POST", "/api/v1/service-items/CITY-SP-1/resolve", key, body, &res); st != 200 {
			t.Fatalf("resolve: %d", st)
		}
	}
	resolve(key, companyID)
	if r := res.Materials[0]; r.Outcome != "satisfied" || r.Certificate == nil || r.Certificate.ID != copyID || r.Agreement != agr ||
		r.Certificate.Fields["permit_no"] != "JY3301020001" || r.Hub == nil || r.Hub.ID != "330102" {
		t.Fatalf("resolve from the copy: %+v", r)
	}
	resolve(key, org(7))
	if r := res.Materials[0]; r.Outcome != "revoked" {
		t.Fatalf("resolve a revoked copy: %+v", r)
	}
	resolve(otherKey, companyID)
	if r := res.Materials[0]; r.Outcome != "not_permitted" {
		t.Fatalf("resolve without the agreement: %+v", r)
	}

	// A revision at the county supersedes the revoked copy (this test
	// revoked it at the city only): the lookup shows the current version
	// only.
	revised := f.revise(t, revoked, org(7), "JY3301020009")
	if st := h.call("GET", "/api/v1/certificates?holder_id="+org(7), key, nil, &found, hdr...); st != 200 || len(found.Certificates) != 1 ||
		found.Certificates[0].ID != revised || found.Certificates[0].Data["permit_no"] != "JY3301020009" || found.Certificates[0].Status != "valid" {
		t.Fatalf("after a revision: %d %+v", st, found)
	}
}

// TestCopiesReadOnly: an agreement may grant a federated type's fields
// only, an issuer of the city decides none of its agreements, and a copy
// is never changed here: lifecycle, revision, files and QR codes are
// refused naming the county.
func TestCopiesReadOnly(t *testing.T) {
	t.Parallel()
	f := newCopyFixture(t)
	h := f.city
	copyID := f.issue(t, companyID, "JY3301020003")
	consumer, _ := h.newConsumer("市级受理平台")
	h.purpose("SX-001")
	today := h.Certs.Today()
	ask := func(g exchange.Grant) (int, string) {
		var out struct {
			ID    string
			Error struct{ Message string }
		}
		body := map[string]any{"consumer": consumer, "grants": []exchange.Grant{g}, "purposes": []string{"SX-001"},
			"valid_from": today.String(), "valid_until": today.AddDays(30).String()}
		st := h.call("POST", "/api/v1/agreements", h.Admin, body, &out)
		if out.ID != "" {
			return st, out.ID
		}
		_, _, raw := h.raw("POST", "/api/v1/agreements", h.Admin, "application/json", []byte(fmt.Sprintf(
			`{"consumer":%q,"grants":[{"type":%q,"fields":[%q]}],"purposes":["SX-001"],"valid_from":%q,"valid_until":%q}`,
			consumer, g.Type, g.Fields[0], today, today.AddDays(30))))
		return st, string(raw)
	}
	if st, why := ask(exchange.Grant{Type: permitType, Fields: []string{"capital"}}); st != 400 ||
		!strings.Contains(why, `grants[0].fields[0]`) || !strings.Contains(why, "capital") {
		t.Errorf("an agreement naming a field the county's type lacks: %d %s", st, why)
	}
	if st, why := ask(exchange.Grant{Type: otherCode + "009", Fields: []string{"permit_no"}}); st != 400 || !strings.Contains(why, "grants[0].type") {
		t.Errorf("an agreement for a type nobody pushed: %d %s", st, why)
	}
	st, agr := ask(exchange.Grant{Type: permitType, Fields: []string{"permit_no", "holder_name"}})
	if st != 201 {
		t.Fatalf("an agreement for the county's type: %d %s", st, agr)
	}
	for _, code := range []string{marketCode, otherCode} {
		if st := h.call("POST", "/api/v1/agreements/"+agr+"/approve", h.token(exchange.RoleIssuer, code), map[string]string{}, nil); st != 403 {
			t.Errorf("an issuer (%s) of the city approves an agreement for the county's type: %d", code, st)
		}
	}
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/approve", h.Admin, map[string]string{}, nil); st != 200 {
		t.Errorf("the administrator approves it: %d", st)
	}

	issuer := h.token(exchange.RoleIssuer, otherCode)
	for _, tc := range []struct{ path, token string }{
		{"/revoke", h.Admin}, {"/suspend", h.Admin}, {"/reinstate", issuer}, {"/revoke", issuer},
		{"/revisions", h.Admin},
	} {
		var out struct {
			Error struct{ Code, Message string }
		}
		body := map[string]any{"reason": "测试"}
		if tc.path == "/revisions" {
			body = map[string]any{"data": map[string]any{"permit_no": "X"}, "reason": "变更"}
		}
		if st := h.call("POST", "/api/v1/certificates/"+copyID+tc.path, tc.token, body, &out); st != 409 || out.Error.Code != "conflict" ||
			!strings.Contains(out.Error.Message, "read-only copy of hub 330102") {
			t.Errorf("%s on a copy: %d %+v", tc.path, st, out)
		}
	}
	for _, p := range []string{"/file?format=pdf", "/qr?form=compact"} {
		if st, _, body := h.fetch("/api/v1/certificates/"+copyID+p, h.Admin); st != 409 || !strings.Contains(string(body), "330102") {
			t.Errorf("%s of a copy: %d %s", p, st, body)
		}
	}
	v, err := h.Store.FederatedVersion(context.Background(), copyID)
	if err != nil || v.State != certificates.StateValid {
		t.Fatalf("the copy after the refusals: %+v %v", v, err)
	}
}
