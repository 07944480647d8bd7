package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/oidc/oidctest"
	"github.com/certhub/certhub/internal/qr"
)

// TestHolderTokensRefused: the provider's tokens are verified with its
// published keys; a wrong signature, issuer, audience, expiry or id claim
// is 401.
func TestHolderTokensRefused(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	good := h.IDP.Claims(companyID, "福建某某科技有限公司")
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"good", h.IDP.Mint(good), 200},
		{"wrong signature", oidctest.Mint(t, oidctest.StrangerKey(t), good), 401},
		{"wrong issuer", h.IDP.Mint(with("iss", "https://evil.example")), 401},
		{"wrong audience", h.IDP.Mint(with("aud", "someone-else")), 401},
		{"expired", h.IDP.Mint(with("exp", time.Now().Add(-time.Hour).Unix())), 401},
		{"no expiry", h.IDP.Mint(with("exp", nil)), 401},
		{"no id claim", h.IDP.Mint(with("id_number", nil)), 401},
		{"id with a bad check character", h.IDP.Mint(with("id_number", "91350100M000100Y44")), 401},
		{"not a JWT", "hello.world", 401},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJpZF9udW1iZXIiOiIxIn0.", 401},
	}
	for _, tt := range tests {
		var out struct{ Error struct{ Message string } }
		if st := h.call("GET", "/api/v1/me/certificates", tt.token, nil, &out); st != tt.want {
			t.Errorf("%s: %d (%s), want %d", tt.name, st, out.Error.Message, tt.want)
		}
	}
}

// TestSharesAPI walks the share journey through the API and the share
// page's JSON, with bad input on the way.
func TestSharesAPI(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	other := issueBody()
	other["holder"] = map[string]string{"kind": "organisation", "id": "91330102MA2001000W", "name": "杭州某某有限公司"}
	var othersCert struct{ ID string }
	h.call("POST", "/api/v1/certificates", h.Admin, other, &othersCert)
	me := h.holderToken(companyID, "福建某某科技有限公司")

	var mine struct{ Certificates []struct{ ID, Status string } }
	if st := h.call("GET", "/api/v1/me/certificates", me, nil, &mine); st != 200 || len(mine.Certificates) != 1 || mine.Certificates[0].ID != issued.ID {
		t.Fatalf("my certificates: %d %+v", st, mine)
	}

	bad := []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"someone else's certificate", map[string]any{"certificate_id": othersCert.ID}, 403, "certificate_id"},
		{"unknown certificate", map[string]any{"certificate_id": certificates.Identifier{TypeCode: licence, Issuer: marketCode, Serial: "999999", Version: 1}.String()}, 403, "certificate_id"},
		{"malformed certificate id", map[string]any{"certificate_id": "1.2.156.nope"}, 400, "certificate_id"},
		{"non-shareable field", map[string]any{"certificate_id": issued.ID, "fields": []string{"legal_representative", "listed", "nope"}}, 400, "fields"},
		{"expiry too short", map[string]any{"certificate_id": issued.ID, "expires_in_seconds": 10}, 400, "expires_in_seconds"},
		{"expiry too long", map[string]any{"certificate_id": issued.ID, "expires_in_seconds": 31 * 24 * 3600}, 400, "expires_in_seconds"},
		{"views", map[string]any{"certificate_id": issued.ID, "max_views": 0}, 400, "max_views"},
	}
	for _, b := range bad {
		var out struct {
			Error struct{ Field, Message string }
		}
		if st := h.call("POST", "/api/v1/me/shares", me, b.body, &out); st != b.status || out.Error.Field != b.field {
			t.Errorf("%s: %d %+v, want %d naming %s", b.name, st, out.Error, b.status, b.field)
		}
		if refused, _, _ := strings.Cut(out.Error.Message, "(shareable"); b.field == "fields" && (!strings.Contains(refused, "listed, nope") || strings.Contains(refused, "legal_representative")) {
			t.Errorf("%s: message should name exactly the refused fields: %s", b.name, out.Error.Message)
		}
	}
	var list struct{ Shares []any }
	if h.call("GET", "/api/v1/me/shares", me, nil, &list); len(list.Shares) != 0 {
		t.Fatalf("refused shares were stored: %d", len(list.Shares))
	}

	// A good share: two fields, two views at most, a purpose.
	var created struct {
		ID, URL, QRPNG, QRSVG string `json:"-"`
	}
	var raw map[string]any
	if st := h.call("POST", "/api/v1/me/shares", me, map[string]any{"certificate_id": issued.ID,
		"fields": []string{"legal_representative", "established_on"}, "max_views": 3, "purpose": "办理银行开户"}, &raw); st != 201 {
		t.Fatalf("create share: %d %v", st, raw)
	}
	created.ID, created.URL, created.QRPNG, created.QRSVG = raw["id"].(string), raw["url"].(string), raw["qr_png"].(string), raw["qr_svg"].(string)
	if !strings.HasPrefix(created.URL, h.Srv.URL+"/s/") || len(created.URL)-len(h.Srv.URL+"/s/") < 43 {
		t.Fatalf("share url = %s", created.URL)
	}
	// The QR PNG decodes (with gozxing, not the encoder) to exactly the URL.
	png := h.get(created.QRPNG, me)
	if got, err := qr.Decode(png); err != nil || got != created.URL {
		t.Fatalf("QR decodes to %q, %v; want %q", got, err, created.URL)
	}
	if svg := string(h.get(created.QRSVG, me)); !strings.HasPrefix(svg, "<svg") {
		t.Fatalf("svg = %.60s", svg)
	}
	// Another holder cannot read the QR (it would reveal the token).
	if st := h.call("GET", created.QRPNG, h.holderToken(personID, "张三"), nil, nil); st != 404 {
		t.Fatalf("another holder's QR: %d", st)
	}

	var shown map[string]any
	token := created.URL[strings.LastIndex(created.URL, "/")+1:]
	if st := h.call("GET", "/s/"+token, "", nil, &shown, "Accept", "application/json"); st != 200 {
		t.Fatalf("share page: %d", st)
	}
	if shown["valid"] != true || shown["seal_valid"] != true || shown["purpose"] != "办理银行开户" || shown["holder_name"] != "福建******公司" {
		t.Fatalf("share = %v", shown)
	}
	fields := shown["fields"].([]any)
	if len(fields) != 2 || fields[0].(map[string]any)["label"] != "法定代表人" {
		t.Fatalf("fields = %v", fields)
	}
	body := h.rawGet("/s/"+token, "application/json")
	if strings.Contains(body, "capital") || strings.Contains(body, companyID) {
		t.Fatalf("share reveals more than the chosen fields: %s", body)
	}

	// The certificate's own revocation shows as revoked.
	h.call("POST", "/api/v1/certificates/"+issued.ID+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil)
	h.call("GET", "/s/"+token, "", nil, &shown, "Accept", "application/json")
	if shown["valid"] != false || shown["status"] != "revoked" {
		t.Fatalf("after revocation: %v", shown)
	}

	// Used up, unknown, expired and revoked links: one answer, same status and body.
	usedUp := h.rawGet("/s/"+token, "application/json")
	unknown := h.rawGet("/s/"+strings.Repeat("A", 43), "application/json")
	if usedUp != unknown || !strings.Contains(unknown, `"valid":false`) {
		t.Fatalf("used up %q vs unknown %q", usedUp, unknown)
	}
	var s2 map[string]any
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued)
	h.call("POST", "/api/v1/me/shares", me, map[string]any{"certificate_id": issued.ID, "expires_in_seconds": 60}, &s2)
	t2 := s2["url"].(string)[len(h.Srv.URL+"/s/"):]
	var s3 map[string]any
	h.call("POST", "/api/v1/me/shares", me, map[string]any{"certificate_id": issued.ID}, &s3)
	if st := h.call("DELETE", "/api/v1/me/shares/"+s3["id"].(string), me, nil, nil); st != 204 {
		t.Fatalf("revoke share: %d", st)
	}
	revoked := h.rawGet(s3["url"].(string)[len(h.Srv.URL):], "application/json")
	h.Clock.Advance(61 * time.Second)
	expired := h.rawGet("/s/"+t2, "application/json")
	if expired != unknown || revoked != unknown {
		t.Fatalf("expired %q / revoked %q differ from unknown %q", expired, revoked, unknown)
	}
	for _, path := range []string{"/s/" + t2, "/s/" + strings.Repeat("B", 43)} {
		if st := h.call("GET", path, "", nil, nil); st != 404 {
			t.Fatalf("%s page: %d", path, st)
		}
	}

	// The holder sees who used their certificates: a department's lookup,
	// with its purpose and case, and the share views.
	consumer := h.token(exchange.RoleConsumer, "")
	h.call("GET", "/api/v1/certificates?holder_id="+companyID, consumer, nil, nil, "X-Purpose", "SX-001", "X-Case-Id", "2026-A-17")
	var acc struct {
		Accesses []struct {
			Action, Purpose string
			ActorName       string `json:"actor_name"`
			CaseID          string `json:"case_id"`
		}
	}
	h.call("GET", "/api/v1/me/accesses", me, nil, &acc)
	if len(acc.Accesses) == 0 || acc.Accesses[0].Action != "lookup" || acc.Accesses[0].Purpose != "SX-001" || acc.Accesses[0].ActorName != "受理平台" || acc.Accesses[0].CaseID != "2026-A-17" {
		t.Fatalf("accesses = %+v", acc.Accesses)
	}
	views := 0
	for _, a := range acc.Accesses {
		if a.Action == "share_view" {
			views++
		}
	}
	if views != 3 {
		t.Fatalf("share views in the ledger = %d, want 3", views)
	}
	var others struct{ Accesses []any }
	h.call("GET", "/api/v1/me/accesses", h.holderToken(personID, "张三"), nil, &others)
	if len(others.Accesses) != 0 {
		t.Fatalf("another holder sees %d accesses", len(others.Accesses))
	}

	// The holder sees the views, with the network only.
	var mineNow struct {
		Shares []struct{ ID string }
		Views  []struct {
			ShareID string `json:"share_id"`
			Client  string
			Network string
		} `json:"views"`
	}
	h.call("GET", "/api/v1/me/shares", me, nil, &mineNow)
	if len(mineNow.Shares) != 3 || len(mineNow.Views) != 3 || mineNow.Views[0].Network != "127.0.0.0/24" || mineNow.Views[0].ShareID != created.ID {
		t.Fatalf("shares and views = %+v", mineNow)
	}
}

func (h *hub) get(path, token string) []byte {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.Srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func (h *hub) rawGet(path, accept string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.Srv.URL+path, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}
