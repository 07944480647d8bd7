package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// foodType is a second certificate type, defined by the other authority.
const foodType = otherCode + "002"

func (h *hub) seedFoodType() {
	h.t.Helper()
	typ := map[string]any{"code": foodType, "name": "食品经营许可证", "defining_authority": otherCode, "holder_kind": "organisation",
		"fields": []map[string]any{{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true}}}
	if st := h.call("POST", "/api/v1/types", h.Admin, typ, nil); st != 201 {
		h.t.Fatalf("create type: %d", st)
	}
}

// newConsumer registers a consumer and returns its id and an API key.
func (h *hub) newConsumer(name string) (id, key string) {
	h.t.Helper()
	var c struct{ ID string }
	if st := h.call("POST", "/api/v1/consumers", h.Admin, map[string]string{"name": name, "uscc": companyID}, &c); st != 201 {
		h.t.Fatalf("create consumer: %d", st)
	}
	var k struct{ ID, Token string }
	if st := h.call("POST", "/api/v1/consumers/"+c.ID+"/keys", h.Admin, map[string]string{}, &k); st != 201 {
		h.t.Fatalf("create key: %d", st)
	}
	return c.ID, k.Token
}

// TestAgreementMatrix calls every consumer endpoint as consumers in every
// situation the issue names and checks the status, that a refusal names
// what is missing, and that a success discloses only granted fields and
// names its agreement.
func TestAgreementMatrix(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.seedFoodType()
	var cert struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	today := h.Certs.Today()
	fieldsOnly := exchange.Grant{Type: licence, Fields: []string{"legal_representative"}, Document: true}
	file := func(consumer string, g exchange.Grant, purpose string, from, until int) string {
		h.purpose(purpose)
		var a struct{ ID string }
		body := map[string]any{"consumer": consumer, "grants": []exchange.Grant{g}, "purposes": []string{purpose},
			"valid_from": today.AddDays(from).String(), "valid_until": today.AddDays(until).String()}
		if st := h.call("POST", "/api/v1/agreements", h.Admin, body, &a); st != 201 {
			t.Fatalf("request agreement: %d", st)
		}
		if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", h.Admin, map[string]string{}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		return a.ID
	}
	type situation struct {
		name    string
		key     string
		headers []string
		want    int
		names   string // the refusal's message must contain this, or the agreement an answer must name
	}
	var cases []situation
	readers := map[string]string{} // actor → the agreement its reads must name
	add := func(name string, want int, names string, setup func(id, key string) string) {
		id, key := h.newConsumer(name)
		if setup != nil {
			key = setup(id, key)
		}
		cases = append(cases, situation{name, key, []string{"X-Purpose", "SX-001", "X-Case-Id", "2026-A-1"}, want, names})
	}
	decide := func(a, decision, reason string) {
		if st := h.call("POST", "/api/v1/agreements/"+a+"/"+decision, h.Admin, map[string]string{"reason": reason}, nil); st != 200 {
			t.Fatalf("%s: %d", decision, st)
		}
	}
	add("no agreement", 403, "has no sharing agreement", nil)
	add("wrong type", 403, licence, func(id, key string) string {
		file(id, exchange.Grant{Type: foodType, Fields: []string{"permit_no"}}, "SX-001", 0, 365)
		return key
	})
	add("wrong purpose", 403, "SX-001", func(id, key string) string {
		file(id, fieldsOnly, "SX-002", 0, 365)
		return key
	})
	add("expired agreement", 403, "expired", func(id, key string) string {
		file(id, fieldsOnly, "SX-001", -30, -1)
		return key
	})
	add("not yet valid", 403, "not valid before", func(id, key string) string {
		file(id, fieldsOnly, "SX-001", 2, 30)
		return key
	})
	add("withdrawn", 403, "withdrawn", func(id, key string) string {
		a := file(id, fieldsOnly, "SX-001", 0, 365)
		decide(a, "withdraw", "协议终止")
		return key
	})
	add("suspended", 403, "suspended", func(id, key string) string {
		a := file(id, fieldsOnly, "SX-001", 0, 365)
		decide(a, "suspend", "立案调查")
		return key
	})
	var resumed string
	add("resumed", 200, "", func(id, key string) string {
		resumed = file(id, fieldsOnly, "SX-001", 0, 365)
		decide(resumed, "suspend", "立案调查")
		decide(resumed, "resume", "调查结束")
		readers["consumer:"+id] = resumed
		return key
	})
	cases[len(cases)-1].names = resumed
	add("revoked key", 401, "revoked", func(id, key string) string {
		file(id, fieldsOnly, "SX-001", 0, 365)
		var toks struct{ Tokens []exchange.Token }
		h.call("GET", "/api/v1/tokens", h.Admin, nil, &toks)
		for _, tk := range toks.Tokens {
			if tk.Consumer == id {
				if st := h.call("DELETE", "/api/v1/tokens/"+tk.ID, h.Admin, nil, nil); st != 204 {
					t.Fatalf("revoke key: %d", st)
				}
			}
		}
		return key
	})
	validID, validKey := h.newConsumer("valid")
	validAgreement := file(validID, fieldsOnly, "SX-001", 0, 365)
	readers["consumer:"+validID] = validAgreement
	cases = append(cases,
		situation{"missing case id", validKey, []string{"X-Purpose", "SX-001"}, 400, "X-Case-Id"},
		situation{"unknown purpose", validKey, []string{"X-Purpose", "SX-999", "X-Case-Id", "c"}, 400, "purpose catalog"},
		situation{"valid", validKey, []string{"X-Purpose", "SX-001", "X-Case-Id", "2026-A-1"}, 200, validAgreement})

	endpoints := []struct{ method, path, body string }{
		{"GET", "/api/v1/certificates?type=" + licence + "&holder_id=" + companyID, ""},
		{"GET", "/api/v1/certificates/" + cert.ID, ""},
		{"GET", "/api/v1/certificates/" + cert.ID + "/document", ""},
		{"POST", "/api/v1/match", fmt.Sprintf(`{"type":%q,"holder_id":%q,"fields":{"legal_representative":"张三","capital":100}}`, licence, companyID)},
	}
	for _, ep := range endpoints {
		for _, c := range cases {
			t.Run(ep.method+" "+strings.SplitN(ep.path, "?", 2)[0]+" "+c.name, func(t *testing.T) {
				req, _ := http.NewRequest(ep.method, h.Srv.URL+ep.path, strings.NewReader(ep.body))
				req.Header.Set("Authorization", "Bearer "+c.key)
				for i := 0; i+1 < len(c.headers); i += 2 {
					req.Header.Set(c.headers[i], c.headers[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, raw)
				}
				if c.want != 200 {
					if !strings.Contains(string(raw), c.names) {
						t.Fatalf("refusal does not name %q: %s", c.names, raw)
					}
					return
				}
				if got := resp.Header.Get("X-Agreement-Id"); got != c.names {
					t.Fatalf("X-Agreement-Id = %q, want %s", got, c.names)
				}
				checkMinimised(t, ep.path, raw, c.names)
			})
		}
	}

	// Nothing was disclosed to the refused: the ledger holds reads by the
	// valid and the resumed consumers only, each under its agreement.
	reads := 0
	for _, e := range h.ledger() {
		switch e.Action {
		case "lookup", "read", "document", "match":
			reads++
			if agr, ok := readers[e.Actor]; !ok || e.Agreement != agr || e.Purpose != "SX-001" || e.CaseID != "2026-A-1" {
				t.Fatalf("ledger entry %+v", e)
			}
		}
	}
	if reads != len(readers)*len(endpoints) {
		t.Fatalf("%d audited reads, want %d", reads, len(readers)*len(endpoints))
	}
}

// checkMinimised checks a successful answer holds only the granted field.
func checkMinimised(t *testing.T, path string, raw []byte, agreement string) {
	t.Helper()
	switch {
	case strings.HasSuffix(path, "/document"):
		if strings.Count(string(raw), ".") != 2 {
			t.Fatalf("document is not a compact JWS: %.80s", raw)
		}
	case strings.HasSuffix(path, "/match"):
		var m struct {
			Result, Agreement string
			Fields            map[string]string
		}
		_ = json.Unmarshal(raw, &m)
		if m.Result != "valid" || m.Fields["legal_representative"] != "match" || m.Fields["capital"] != "not_permitted" || m.Agreement != agreement {
			t.Fatalf("match = %s", raw)
		}
		if strings.Contains(string(raw), "张三") || strings.Contains(string(raw), "福建某某") {
			t.Fatalf("match disclosed data: %s", raw)
		}
	default:
		var one struct {
			Data      map[string]any
			Holder    struct{ Name string }
			Agreement string
		}
		if strings.Contains(path, "?") {
			var page struct{ Certificates []json.RawMessage }
			_ = json.Unmarshal(raw, &page)
			if len(page.Certificates) != 1 {
				t.Fatalf("lookup = %s", raw)
			}
			raw = page.Certificates[0]
		}
		_ = json.Unmarshal(raw, &one)
		keys := make([]string, 0, len(one.Data))
		for k := range one.Data {
			keys = append(keys, k)
		}
		if !slices.Equal(keys, []string{"legal_representative"}) || one.Holder.Name != "" || one.Agreement != agreement {
			t.Fatalf("not minimised to the grant: %s", raw)
		}
	}
}

// TestAgreementLifecycle: who may request, approve and withdraw, the state
// an agreement shows, bad requests refused with the field named and
// nothing stored, and the document right.
func TestAgreementLifecycle(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.seedFoodType()
	h.purpose("SX-001")
	id, key := h.newConsumer("受理平台")
	today := h.Certs.Today()
	req := map[string]any{"grants": []map[string]any{{"type": licence, "fields": []string{"legal_representative"}}},
		"purposes": []string{"SX-001"}, "valid_from": today.String(), "valid_until": today.AddDays(30).String(), "rate_per_minute": 2}

	// Bad requests name the field; nothing is stored.
	bad := []struct {
		change map[string]any
		field  string
	}{
		{map[string]any{"grants": []map[string]any{}}, "grants"},
		{map[string]any{"grants": []map[string]any{{"type": "nope", "fields": []string{"a"}}}}, "grants[0].type"},
		{map[string]any{"grants": []map[string]any{{"type": licence, "fields": []string{"secret_field"}}}}, "grants[0].fields[0]"},
		{map[string]any{"purposes": []string{"SX-404"}}, "purposes[0]"},
		{map[string]any{"purposes": []string{}}, "purposes"},
		{map[string]any{"valid_until": today.AddDays(-1).String()}, "valid_until"},
		{map[string]any{"valid_until": ""}, "valid_until"},
		{map[string]any{"rate_per_minute": 0}, "rate_per_minute"},
	}
	for _, b := range bad {
		body := map[string]any{}
		for k, v := range req {
			body[k] = v
		}
		for k, v := range b.change {
			body[k] = v
		}
		var out struct{ Error struct{ Field string } }
		if st := h.call("POST", "/api/v1/agreements", key, body, &out); st != 400 || out.Error.Field != b.field {
			t.Errorf("%v: %d field %q, want 400 naming %s", b.change, st, out.Error.Field, b.field)
		}
	}
	var list struct{ Agreements []exchange.Agreement }
	if h.call("GET", "/api/v1/agreements", h.Admin, nil, &list); len(list.Agreements) != 0 {
		t.Fatalf("a refused request was stored: %+v", list.Agreements)
	}

	// A consumer requests for itself; another consumer cannot see it.
	var a exchange.Agreement
	if st := h.call("POST", "/api/v1/agreements", key, req, &a); st != 201 || a.Consumer != id || a.State != "requested" {
		t.Fatalf("request: %d %+v", st, a)
	}
	_, other := h.newConsumer("别的平台")
	if st := h.call("GET", "/api/v1/agreements/"+a.ID, other, nil, nil); st != 404 {
		t.Fatalf("another consumer read it: %d", st)
	}
	if st := h.call("POST", "/api/v1/agreements", other, map[string]any{"consumer": id}, nil); st != 403 {
		t.Fatalf("requested for someone else: %d", st)
	}
	// Consumers cannot approve; the other authority's issuer cannot
	// either; the defining authority's issuer can.
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", key, map[string]string{}, nil); st != 403 {
		t.Fatalf("consumer approved: %d", st)
	}
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", h.token(exchange.RoleIssuer, otherCode), map[string]string{}, nil); st != 403 {
		t.Fatalf("other authority approved: %d", st)
	}
	// Until approved, a call is refused as awaiting approval.
	var cert struct{ ID string }
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert)
	hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "c-1"}
	var e struct{ Error struct{ Message string } }
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, key, nil, &e, hdr...); st != 403 || !strings.Contains(e.Error.Message, "awaiting approval") {
		t.Fatalf("before approval: %d %s", st, e.Error.Message)
	}
	issuer := h.token(exchange.RoleIssuer, marketCode)
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", issuer, map[string]string{"reason": "依据共享责任清单"}, &a); st != 200 || a.State != "active" {
		t.Fatalf("approve: %d %+v", st, a)
	}
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", issuer, map[string]string{}, nil); st != 409 {
		t.Fatalf("approved twice: %d", st)
	}
	// The grant has no document: fields only.
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID+"/document", key, nil, &e, hdr...); st != 403 || !strings.Contains(e.Error.Message, "not its signed document") {
		t.Fatalf("document without the right: %d %s", st, e.Error.Message)
	}
	// The rate limit (2 a minute) holds: the refused document call did
	// not spend it, so two reads pass and the third is refused.
	for i, want := range []int{200, 200, 429} {
		if st := h.call("GET", "/api/v1/certificates/"+cert.ID, key, nil, nil, hdr...); st != want {
			t.Fatalf("read %d: %d, want %d", i, st, want)
		}
	}
	// Without type, a lookup shows only covered types.
	food := map[string]any{"type": foodType, "authority": otherCode, "holder": map[string]string{"kind": "organisation", "id": companyID, "name": "福建某某科技有限公司"},
		"data": map[string]any{"permit_no": "JY1"}, "valid_from": "2025-01-01", "valid_until": "2029-12-31"}
	if st := h.call("POST", "/api/v1/certificates", h.Admin, food, nil); st != 201 {
		t.Fatalf("issue food permit: %d", st)
	}
	id2, key2 := h.newConsumer("第二平台")
	h.agreement(id2, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	var page struct{ Certificates []struct{ Type string } }
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, key2, nil, &page, hdr...); st != 200 || len(page.Certificates) != 1 || page.Certificates[0].Type != licence {
		t.Fatalf("lookup without type: %d %+v", st, page)
	}

	// Withdrawal needs a reason and takes effect at once.
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/withdraw", key, map[string]string{}, nil); st != 400 {
		t.Fatalf("withdraw without reason: %d", st)
	}
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/withdraw", key, map[string]string{"reason": "系统下线"}, &a); st != 200 || a.State != "withdrawn" {
		t.Fatalf("withdraw: %d %+v", st, a)
	}
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, key, nil, &e, hdr...); st != 403 || !strings.Contains(e.Error.Message, "withdrawn") {
		t.Fatalf("after withdrawal: %d %s", st, e.Error.Message)
	}
	// The issuer lists agreements over its types only.
	if h.call("GET", "/api/v1/agreements", h.token(exchange.RoleIssuer, otherCode), nil, &list); len(list.Agreements) != 0 {
		t.Fatalf("other authority sees %+v", list.Agreements)
	}
	// The ledger recorded each step.
	var steps []string
	for _, e := range h.ledger() {
		if e.Agreement == a.ID && strings.HasPrefix(e.Action, "agreement_") {
			steps = append(steps, e.Action)
		}
	}
	if !slices.Equal(steps, []string{"agreement_request", "agreement_approve", "agreement_withdraw"}) {
		t.Fatalf("ledger steps %v", steps)
	}
}

// TestAgreementSuspension: an agreement under investigation is suspended
// and resumed by the same deciders as approval (an administrator, or the
// authority defining its types), with a reason; a suspended agreement
// refuses calls at once on the deciding replica, with a 403 that says it is
// suspended, and on another replica within the cache time; resuming
// restores it; a suspended agreement can still be withdrawn for good; the
// ledger records each step.
func TestAgreementSuspension(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	id, key := h.newConsumer("不动产登记系统")
	agr := h.agreement(id, exchange.Grant{Type: licence, Fields: []string{"legal_representative"}}, "SX-001")
	var cert struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	read := func() (int, string) {
		t.Helper()
		var e struct{ Error struct{ Message string } }
		st := h.call("GET", "/api/v1/certificates/"+cert.ID, key, nil, &e, "X-Purpose", "SX-001", "X-Case-Id", "2026-S-1")
		return st, e.Error.Message
	}
	if st, msg := read(); st != 200 {
		t.Fatalf("read under the approved agreement: %d %s", st, msg) // and its agreements are cached now
	}
	// Another replica on the same database, which has cached them too.
	other := &exchange.Registry{Store: h.Store, Tokens: h.Store, Certs: h.Certs, Ledger: h.Ledger, Now: h.Clock.Now}
	if _, err := other.Authorize(context.Background(), id, "SX-001"); err != nil {
		t.Fatalf("other replica: %v", err)
	}

	issuer := h.token(exchange.RoleIssuer, marketCode)
	refused := []struct {
		name, token, decision string
		body                  map[string]string
		status                int
	}{
		{"the consumer suspends", key, "suspend", map[string]string{"reason": "x"}, 403},
		{"another authority suspends", h.token(exchange.RoleIssuer, otherCode), "suspend", map[string]string{"reason": "x"}, 403},
		{"no reason", issuer, "suspend", map[string]string{}, 400},
		{"a control character in the reason", issuer, "suspend", map[string]string{"reason": "立案\x07调查"}, 400},
		{"resume what is not suspended", issuer, "resume", map[string]string{"reason": "x"}, 409},
	}
	for _, c := range refused {
		if st := h.call("POST", "/api/v1/agreements/"+agr+"/"+c.decision, c.token, c.body, nil); st != c.status {
			t.Errorf("%s: %d, want %d", c.name, st, c.status)
		}
	}
	if st, _ := read(); st != 200 {
		t.Fatalf("a refused suspension took effect: %d", st)
	}

	var a exchange.Agreement
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/suspend", issuer, map[string]string{"reason": "立案调查"}, &a); st != 200 ||
		a.Status != "suspended" || a.State != "suspended" || a.Reason != "立案调查" {
		t.Fatalf("suspend: %d %+v", st, a)
	}
	// At once here, although the agreements were cached a moment ago.
	if st, msg := read(); st != 403 || !strings.Contains(msg, "suspended") || !strings.Contains(msg, agr) {
		t.Fatalf("read under a suspended agreement: %d %q", st, msg)
	}
	// Elsewhere within the cache time.
	h.Clock.Advance(exchange.AgreementTTL)
	if _, err := other.Authorize(context.Background(), id, "SX-001"); err == nil || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("other replica after the cache time: %v", err)
	}
	for _, d := range []string{"suspend", "approve"} {
		if st := h.call("POST", "/api/v1/agreements/"+agr+"/"+d, h.Admin, map[string]string{"reason": "again"}, nil); st != 409 {
			t.Errorf("%s a suspended agreement: %d, want 409", d, st)
		}
	}
	if st := h.call("GET", "/api/v1/agreements/"+agr, key, nil, &a); st != 200 || a.State != "suspended" {
		t.Fatalf("the consumer's view: %d %+v", st, a)
	}
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/resume", key, map[string]string{"reason": "x"}, nil); st != 403 {
		t.Fatalf("the consumer resumed: %d", st)
	}

	if st := h.call("POST", "/api/v1/agreements/"+agr+"/resume", h.Admin, map[string]string{"reason": "调查结束"}, &a); st != 200 || a.State != "active" {
		t.Fatalf("resume: %d %+v", st, a)
	}
	if st, msg := read(); st != 200 {
		t.Fatalf("read after resuming: %d %s", st, msg)
	}

	// Suspended again, it may still be withdrawn for good.
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/suspend", h.Admin, map[string]string{"reason": "再次立案"}, nil); st != 200 {
		t.Fatalf("suspend again: %d", st)
	}
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/withdraw", key, map[string]string{"reason": "系统下线"}, &a); st != 200 || a.State != "withdrawn" {
		t.Fatalf("withdraw a suspended agreement: %d %+v", st, a)
	}
	if st := h.call("POST", "/api/v1/agreements/"+agr+"/resume", h.Admin, map[string]string{"reason": "x"}, nil); st != 409 {
		t.Fatalf("resumed a withdrawn agreement: %d", st)
	}

	var steps []string
	for _, e := range h.ledger() {
		if e.Agreement == agr && strings.HasPrefix(e.Action, "agreement_") {
			steps = append(steps, e.Action+" "+e.Outcome)
		}
	}
	want := []string{"agreement_request ok: for " + id, "agreement_approve ok: ", "agreement_suspend ok: 立案调查", "agreement_resume ok: 调查结束",
		"agreement_suspend ok: 再次立案", "agreement_withdraw ok: 系统下线"}
	if !slices.Equal(steps, want) {
		t.Fatalf("ledger steps\n%q\nwant\n%q", steps, want)
	}
}

// assertion builds a client assertion for a consumer.
func assertion(t *testing.T, key ed25519.PrivateKey, kid, consumer, aud, jti string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewBuilder().Issuer(consumer).Subject(consumer).Audience([]string{aud}).JwtID(jti).
		IssuedAt(time.Now()).Expiration(exp).Build()
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func publicJWKS(t *testing.T, pub ed25519.PublicKey, kid string) json.RawMessage {
	t.Helper()
	k, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.EdDSA())
	b, _ := json.Marshal(map[string]any{"keys": []jwk.Key{k}})
	return b
}

// TestPrivateKeyJWT: a consumer gets an access token with a client assertion
// signed by its registered key; wrong key, replay, expiry, wrong audience,
// a malformed assertion and unknown scopes are refused; the token carries
// the scopes; revoking the consumer ends the token at once.
func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	id, apiKey := h.newConsumer("审批系统")
	h.agreement(id, exchange.Grant{Type: licence, Fields: []string{"legal_representative"}}, "SX-001")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)

	// Registering private material is refused.
	pk, _ := jwk.Import(priv)
	_ = pk.Set(jwk.KeyIDKey, "k1")
	_ = pk.Set(jwk.AlgorithmKey, jwa.EdDSA())
	privSet, _ := json.Marshal(map[string]any{"keys": []jwk.Key{pk}})
	var e struct {
		Error struct{ Field, Message string }
	}
	if st := h.call("PUT", "/api/v1/consumers/"+id+"/jwks", h.Admin, json.RawMessage(privSet), &e); st != 400 || e.Error.Field != "jwks" {
		t.Fatalf("private JWKS: %d %+v", st, e)
	}
	if st := h.call("PUT", "/api/v1/consumers/"+id+"/jwks", h.Admin, publicJWKS(t, pub, "k1"), nil); st != 204 {
		t.Fatalf("register JWKS: %d", st)
	}

	tokenURL := h.Srv.URL + "/api/v1/oauth/token"
	post := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	form := func(a string, extra ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {exchange.AssertionType}, "client_assertion": {a}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	soon := time.Now().Add(2 * time.Minute)
	refused := []struct {
		name      string
		form      url.Values
		status    int
		code, why string
	}{
		{"wrong key", form(assertion(t, otherPriv, "k1", id, tokenURL, "j-1", soon)), 401, "invalid_client", "refused"},
		{"expired", form(assertion(t, priv, "k1", id, tokenURL, "j-2", time.Now().Add(-5*time.Minute))), 401, "invalid_client", "exp"},
		{"wrong audience", form(assertion(t, priv, "k1", id, "https://other.example/token", "j-3", soon)), 401, "invalid_client", "audience"},
		{"too long-lived", form(assertion(t, priv, "k1", id, tokenURL, "j-4", time.Now().Add(time.Hour))), 401, "invalid_client", "too late"},
		{"unknown client", form(assertion(t, priv, "k1", "csm_nobody", tokenURL, "j-5", soon)), 401, "invalid_client", "unknown client"},
		{"malformed", form("not.a.jwt"), 400, "invalid_request", "not a JWT"},
		{"wrong grant", form(assertion(t, priv, "k1", id, tokenURL, "j-6", soon), "grant_type", "password"), 400, "unsupported_grant_type", "client_credentials"},
		{"unknown scope", form(assertion(t, priv, "k1", id, tokenURL, "j-7", soon), "scope", "admin"), 400, "invalid_scope", "admin"},
		{"client_id differs", form(assertion(t, priv, "k1", id, tokenURL, "j-8", soon), "client_id", "csm_other"), 401, "invalid_client", "does not match"},
	}
	for _, c := range refused {
		st, out := post(c.form)
		if st != c.status || out["error"] != c.code || !strings.Contains(fmt.Sprint(out["error_description"]), c.why) {
			t.Errorf("%s: %d %v, want %d %s naming %q", c.name, st, out, c.status, c.code, c.why)
		}
	}

	// A refused assertion stored nothing: its jti is still usable.
	good := assertion(t, priv, "k1", id, tokenURL, "j-1", soon)
	st, out := post(form(good))
	if st != 200 || out["token_type"] != "Bearer" || out["expires_in"] != float64(300) {
		t.Fatalf("token: %d %v", st, out)
	}
	at := out["access_token"].(string)
	if st, out := post(form(good)); st != 401 || !strings.Contains(fmt.Sprint(out["error_description"]), "already used") {
		t.Fatalf("replay: %d %v", st, out)
	}
	// The access token verifies with the published JWKS and reads under
	// the consumer's agreement.
	var set json.RawMessage
	h.call("GET", "/.well-known/jwks.json", "", nil, &set)
	keys, err := jwk.Parse(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseString(at, jwt.WithKeySet(keys), jwt.WithValidate(true)); err != nil {
		t.Fatalf("access token does not verify with the JWKS: %v", err)
	}
	var cert struct{ ID string }
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert)
	hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "c-1"}
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, at, nil, nil, hdr...); st != 200 {
		t.Fatalf("read with the access token: %d", st)
	}
	// A token asked for "match" only cannot look up.
	st, out = post(form(assertion(t, priv, "k1", id, tokenURL, "j-9", soon), "scope", "match"))
	if st != 200 || out["scope"] != "match" {
		t.Fatalf("match-only token: %d %v", st, out)
	}
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, out["access_token"].(string), nil, &e, hdr...); st != 403 || !strings.Contains(e.Error.Message, "certificates:read") {
		t.Fatalf("match-only token read: %d %+v", st, e)
	}
	// A forged token signed by another key is not the hub's.
	forged := assertion(t, otherPriv, "k1", id, h.Srv.URL, "x", soon)
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, forged, nil, nil, hdr...); st != 401 {
		t.Fatalf("forged token: %d", st)
	}
	// Revoking the consumer ends the access token and the API key at once,
	// the key though this replica has it in memory from a call just made.
	if st := h.call("GET", "/api/v1/certificates/"+cert.ID, apiKey, nil, nil, hdr...); st != 200 {
		t.Fatalf("read with the API key: %d", st)
	}
	if st := h.call("POST", "/api/v1/consumers/"+id+"/revoke", h.Admin, nil, nil); st != 204 {
		t.Fatalf("revoke consumer: %d", st)
	}
	for name, tok := range map[string]string{"access token": at, "API key": apiKey} {
		if st := h.call("GET", "/api/v1/certificates/"+cert.ID, tok, nil, nil, hdr...); st != 401 {
			t.Fatalf("%s after revocation: %d", name, st)
		}
	}
	if st, out := post(form(assertion(t, priv, "k1", id, tokenURL, "j-10", soon))); st != 401 || !strings.Contains(fmt.Sprint(out["error_description"]), "revoked") {
		t.Fatalf("token for a revoked consumer: %d %v", st, out)
	}
}

// TestMatch: per-field match, mismatch and not-permitted, the four results,
// normalised comparison, and bad input refused with nothing recorded.
func TestMatch(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	id, key := h.newConsumer("比对平台")
	agr := h.agreement(id, exchange.Grant{Type: licence, Fields: []string{"legal_representative", "capital", "holder_name"}}, "SX-001")
	var cert struct{ ID string }
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &cert)
	hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "2026-M-1"}
	type answer struct {
		Result, Agreement, Status string
		CertificateID             string `json:"certificate_id"`
		Fields                    map[string]string
	}
	match := func(holder string, fields map[string]any) (int, answer) {
		var a answer
		st := h.call("POST", "/api/v1/match", key, map[string]any{"type": licence, "holder_id": holder, "fields": fields}, &a, hdr...)
		return st, a
	}
	// Full-width digits and spaces are what people type; they match.
	st, a := match(companyID, map[string]any{"legal_representative": " 张三 ", "capital": "１００", "holder_name": "福建某某科技有限公司", "listed": true})
	if st != 200 || a.Result != "valid" || a.Agreement != agr || a.CertificateID != cert.ID || a.Status != "valid" ||
		a.Fields["legal_representative"] != "match" || a.Fields["capital"] != "match" || a.Fields["holder_name"] != "match" || a.Fields["listed"] != "not_permitted" {
		t.Fatalf("all match: %d %+v", st, a)
	}
	if st, a = match(companyID, map[string]any{"legal_representative": "李四", "capital": 100}); a.Result != "partly_wrong" || a.Fields["legal_representative"] != "mismatch" || a.Fields["capital"] != "match" {
		t.Fatalf("partly wrong: %d %+v", st, a)
	}
	if st, a = match("91350100M000200Y4"+string(certificates.USCCCheck("91350100M000200Y4")), map[string]any{"capital": 100}); st != 200 || a.Result != "not_found" || a.CertificateID != "" {
		t.Fatalf("not found: %d %+v", st, a)
	}
	if st := h.call("POST", "/api/v1/certificates/"+cert.ID+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st, a = match(companyID, map[string]any{"capital": 100}); a.Result != "invalid" || a.Status != "revoked" {
		t.Fatalf("revoked: %d %+v", st, a)
	}
	before := len(h.ledger())

	// Bad input: named field, nothing recorded.
	many := map[string]any{}
	for i := 0; i < 40; i++ {
		many[fmt.Sprintf("f%d", i)] = "x"
	}
	bad := []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"holder_id": companyID, "fields": map[string]any{"capital": 1}}, 400, "type"},
		{map[string]any{"type": licence, "holder_id": "91350100M000100Y44", "fields": map[string]any{"capital": 1}}, 400, "holder_id"},
		{map[string]any{"type": licence, "holder_id": companyID, "fields": map[string]any{}}, 400, "fields"},
		{map[string]any{"type": licence, "holder_id": companyID, "fields": map[string]any{"no_such": 1}}, 400, "fields.no_such"},
		{map[string]any{"type": licence, "holder_id": companyID, "fields": map[string]any{"capital": []int{1}}}, 400, "fields.capital"},
		{map[string]any{"type": licence, "holder_id": companyID, "fields": many}, 413, "fields"},
		{map[string]any{"type": licence, "holder_id": companyID, "fields": map[string]any{"capital": strings.Repeat("x", 20000)}}, 413, "body"},
	}
	for _, b := range bad {
		var e struct{ Error struct{ Field string } }
		if st := h.call("POST", "/api/v1/match", key, b.body, &e, hdr...); st != b.status || e.Error.Field != b.field {
			t.Errorf("%.120v: %d field %q, want %d %s", b.body, st, e.Error.Field, b.status, b.field)
		}
	}
	var e struct{ Error struct{ Field string } }
	if st := h.call("POST", "/api/v1/match", key, map[string]any{"type": licence, "holder_id": companyID, "fields": map[string]any{"capital": 1}}, &e,
		"X-Purpose", "SX-unknown", "X-Case-Id", "c"); st != 400 || e.Error.Field != "X-Purpose" {
		t.Errorf("unknown purpose: %d %+v", st, e)
	}
	if after := len(h.ledger()); after != before {
		t.Fatalf("refused matches were recorded: %d entries, was %d", after, before)
	}
	// Matches are in the ledger with the fields compared and no values.
	var m []exchange.AuditEntry
	for _, e := range h.ledger() {
		if e.Action == "match" {
			m = append(m, e)
		}
	}
	if len(m) != 4 || m[0].Outcome != "valid" || m[0].Agreement != agr || m[0].CaseID != "2026-M-1" || !slices.Contains(m[0].Fields, "capital") || slices.Contains(m[0].Fields, "listed") {
		t.Fatalf("ledger: %+v", m)
	}
}
