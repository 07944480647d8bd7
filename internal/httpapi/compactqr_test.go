package httpapi_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/compactqr/compactqrtest"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/testenv"
)

// jwksKey finds a seal key in the public JWKS: its JWK (JSON) and public
// key, for verifying a compact QR the way an outside verifier would.
func (h *hub) jwksKey(kid string) ([]byte, crypto.PublicKey) {
	h.t.Helper()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(h.getPublic("/.well-known/jwks.json"), &set); err != nil {
		h.t.Fatal(err)
	}
	for _, raw := range set.Keys {
		var head struct{ Kid string }
		_ = json.Unmarshal(raw, &head)
		if head.Kid != kid {
			continue
		}
		k, err := jwk.ParseKey(raw)
		if err != nil {
			h.t.Fatal(err)
		}
		var pub any
		if err := jwk.Export(k, &pub); err != nil {
			h.t.Fatal(err)
		}
		return raw, pub
	}
	h.t.Fatalf("kid %s is not in the JWKS", kid)
	return nil, nil
}

// verifyCompact checks text with compactqr.Verify and the JWKS key kid.
func (h *hub) verifyCompact(text, kid string) *compactqr.Result {
	h.t.Helper()
	_, pub := h.jwksKey(kid)
	res, err := compactqr.Verify(text, func([]byte) (crypto.PublicKey, error) { return pub, nil }, time.Now())
	if err != nil {
		h.t.Fatalf("%v\n%s", err, text)
	}
	return res
}

// TestCompactQR: GET …/qr?form=compact gives the licence's compact signed
// QR as text (verified by the Python and Node verifiers with the key from
// the JWKS), PNG (read back by zbarimg and ZXingReader to the same text)
// and SVG, with the type's shareable fields or the ones asked for, the
// holder's name masked; to the roles that read the document, recorded in
// the ledger; bad parameters are named; a suspended or revoked licence
// gets none.
func TestCompactQR(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	path := "/api/v1/certificates/" + issued.ID + "/qr?form=compact"

	// Text, by default with every shareable field (not "listed").
	st, hdr, body := h.raw("GET", path+"&format=text", h.Admin, "", nil)
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || !strings.HasPrefix(string(body), "CH1:") {
		t.Fatalf("text: %d %s %.100s", st, hdr.Get("Content-Type"), body)
	}
	text, kid := string(body), hdr.Get("X-Compact-QR-Kid")
	if hdr.Get("X-Compact-QR-Characters") != strconv.Itoa(len(text)) || len(text) > 800 {
		t.Fatalf("length header %s for %d characters", hdr.Get("X-Compact-QR-Characters"), len(text))
	}
	if got := hdr.Get("X-Compact-QR-Fields"); got != "legal_representative,established_on,capital" {
		t.Fatalf("fields %q", got)
	}
	res := h.verifyCompact(text, kid)
	l := res.Licence
	if l.ID != issued.ID || l.TypeCode != licence || l.TypeName != "营业执照" || l.IssuerUSCC != marketCode || l.Holder != "福建******公司" ||
		l.ValidFrom != (compactqr.Date{Year: 2020, Month: 5, Day: 1}) || l.ValidUntil != (compactqr.Date{Year: 2030, Month: 4, Day: 27}) {
		t.Fatalf("licence %+v", l)
	}
	if l.Fields[1] != "张三" || l.Fields[2] != (compactqr.Date{Year: 2020, Month: 5, Day: 1}) || l.Fields[3] != int64(100) || len(l.Fields) != 3 {
		t.Fatalf("fields %#v", l.Fields)
	}
	// The status reference is the version's entry in the Token Status List.
	c, err := h.Certs.Get(context.Background(), issued.ID)
	if err != nil || c.Status == nil {
		t.Fatalf("the certificate has no status list entry: %v", err)
	}
	want := compactqr.StatusRef{Idx: uint64(c.Status.Index), URI: statuslist.TSLURL(h.Srv.URL, c.Status.List)}
	if res.Alg != "ES256" || res.Issuer != h.Srv.URL || res.Status == nil || *res.Status != want {
		t.Fatalf("alg %s iss %s status %+v, want %+v", res.Alg, res.Issuer, res.Status, want)
	}
	// …and the public list says valid there (two bits, LSB first).
	if got := tslStatus(t, h, c.Status.List, c.Status.Index); got != 0 {
		t.Fatalf("the Token Status List says %d at the QR's index, want 0 (valid)", got)
	}

	// The independent verifiers, with the key from the JWKS.
	jwkJSON, _ := h.jwksKey(kid)
	file := filepath.Join(t.TempDir(), "qr.txt")
	_ = os.WriteFile(file, []byte(text), 0o600)
	for name, v := range map[string]compactqrtest.Verifier{"python": compactqrtest.Python(t), "node": compactqrtest.Node(t)} {
		out, ok := v(t, file, jwkJSON)
		want := strings.Join([]string{hexOf(res.Kid), issued.ID, "2020-05-01 2030-04-27 张三", strconv.Itoa(c.Status.Index), statuslist.TSLURL(h.Srv.URL, c.Status.List)}, " ")
		if !ok || out != want {
			t.Fatalf("%s: %q (accepted %v), want %q", name, out, ok, want)
		}
	}

	// PNG: zbarimg and ZXingReader read the same text, which verifies.
	st, hdr, png := h.raw("GET", path, h.Admin, "", nil)
	if st != 200 || hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("png: %d %s", st, hdr.Get("Content-Type"))
	}
	pngFile := filepath.Join(t.TempDir(), "qr.png")
	_ = os.WriteFile(pngFile, png, 0o600)
	var read []string
	for _, r := range []struct {
		tool, install string
		args          []string
	}{
		{"zbarimg", "Debian zbar-tools", []string{"--raw", "-q", pngFile}},
		{"ZXingReader", "Debian zxing-cpp-tools", []string{"-format", "QRCode", "-bytes", pngFile}},
	} {
		out, err := exec.Command(testenv.Tool(t, r.tool, r.install), r.args...).Output()
		if err != nil {
			t.Fatalf("%s: %v", r.tool, err)
		}
		read = append(read, strings.TrimRight(string(out), "\n"))
	}
	if read[0] != read[1] || len(read[0]) != mustAtoi(t, hdr.Get("X-Compact-QR-Characters")) {
		t.Fatalf("zbarimg read %q\nZXingReader read %q", read[0], read[1])
	}
	h.verifyCompact(read[0], kid)
	if art := os.Getenv("CERTHUB_ARTIFACTS"); art != "" {
		_ = os.MkdirAll(art, 0o755)
		_ = os.WriteFile(filepath.Join(art, "60-compact-qr.png"), png, 0o644)
	}

	// SVG.
	if st, ct, svg := h.fetch(path+"&format=svg", h.Admin); st != 200 || ct != "image/svg+xml" || !strings.HasPrefix(string(svg), "<svg") {
		t.Fatalf("svg: %d %s %.60s", st, ct, svg)
	}

	// Fields asked for, and none.
	for q, want := range map[string]int{"&fields=established_on": 1, "&fields=": 0, "&fields=capital,%20legal_representative": 2} {
		st, hdr, body := h.raw("GET", path+"&format=text"+q, h.Admin, "", nil)
		if st != 200 {
			t.Fatalf("%s: %d %s", q, st, body)
		}
		if got := h.verifyCompact(string(body), hdr.Get("X-Compact-QR-Kid")).Licence.Fields; len(got) != want {
			t.Fatalf("%s: fields %v", q, got)
		}
	}

	// Bad parameters, each named; nothing recorded.
	before := len(h.ledger())
	for _, tc := range []struct{ query, field, reason string }{
		{"", "form", "required"},
		{"?form=full", "form", "must be compact"},
		{"?form=compact&format=gif", "format", "png, text or svg"},
		{"?form=compact&fields=listed", "fields", "listed"},
		{"?form=compact&fields=capital,nope", "fields", "nope"},
	} {
		var bad errorAnswer
		if st := h.call("GET", "/api/v1/certificates/"+issued.ID+"/qr"+tc.query, h.Admin, nil, &bad); st != 400 || !bad.names(tc.field, tc.reason) {
			t.Errorf("%q: %d %+v", tc.query, st, bad.Error)
		}
	}
	if after := len(h.ledger()); after != before {
		t.Fatalf("refused requests were recorded: %d → %d", before, after)
	}

	// Who may ask: the roles that read the document, within their scope.
	consumer := h.token(exchange.RoleConsumer, "")
	for _, tc := range []struct {
		who   string
		token string
		want  int
	}{
		{"anonymous", "", 401},
		{"admin", h.Admin, 200},
		{"issuer of the authority", h.token(exchange.RoleIssuer, marketCode), 200},
		{"issuer of another authority", h.token(exchange.RoleIssuer, otherCode), 403},
		{"consumer with the document granted", consumer, 200},
		{"clerk", h.token(exchange.RoleClerk, ""), 403},
		{"holder (use /me)", h.holderToken(companyID, "福建某某科技有限公司"), 403},
	} {
		if st, _, _ := h.fetch(path+"&format=text", tc.token, "X-Purpose", "SX-001", "X-Case-Id", "2026-Q-1"); st != tc.want {
			t.Errorf("%s: %d, want %d", tc.who, st, tc.want)
		}
	}
	found := false
	for _, e := range h.ledger() {
		found = found || (e.Action == "compact_qr" && e.CaseID == "2026-Q-1" && strings.Join(e.Fields, ",") == "legal_representative,established_on,capital")
	}
	if !found {
		t.Fatal("the consumer's compact QR is not in the ledger with its fields")
	}
	// A consumer whose agreement grants fields but not the document: 403.
	var fieldsOnly struct{ ID string }
	h.call("POST", "/api/v1/consumers", h.Admin, map[string]string{"name": "只读字段", "uscc": companyID}, &fieldsOnly)
	h.agreement(fieldsOnly.ID, exchange.Grant{Type: licence, Fields: []string{"legal_representative"}}, testPurposes...)
	var key struct{ Token string }
	h.call("POST", "/api/v1/consumers/"+fieldsOnly.ID+"/keys", h.Admin, map[string]string{"name": "key"}, &key)
	if st, _, _ := h.fetch(path+"&format=text", key.Token, "X-Purpose", "SX-001", "X-Case-Id", "2026-Q-2"); st != 403 {
		t.Errorf("consumer without the document: %d, want 403", st)
	}

	// The holder, with the fields they pick; another holder gets 404.
	mine := "/api/v1/me/certificates/" + issued.ID + "/qr?form=compact&format=text&fields=legal_representative"
	st, hdr, body = h.raw("GET", mine, h.holderToken(companyID, "福建某某科技有限公司"), "", nil)
	if st != 200 || hdr.Get("X-Compact-QR-Fields") != "legal_representative" {
		t.Fatalf("holder: %d %s", st, body)
	}
	h.verifyCompact(string(body), hdr.Get("X-Compact-QR-Kid"))
	if st, _, _ := h.fetch(mine, h.holderToken(personID, "张三")); st != 404 {
		t.Fatalf("another holder: %d, want 404", st)
	}
	var bad errorAnswer
	if st := h.call("GET", "/api/v1/me/certificates/"+issued.ID+"/qr?form=share", h.holderToken(companyID, "福建某某科技有限公司"), nil, &bad); st != 400 || !bad.names("form", "compact") {
		t.Fatalf("holder, form=share: %d %+v", st, bad.Error)
	}

	// Suspended or revoked: no compact QR, for anyone.
	for _, step := range []struct {
		action string
		want   int
	}{{"suspend", 409}, {"reinstate", 200}, {"revoke", 409}} {
		if st := h.call("POST", "/api/v1/certificates/"+issued.ID+"/"+step.action, h.Admin, map[string]string{"reason": "测试"}, nil); st != 200 {
			t.Fatalf("%s: %d", step.action, st)
		}
		st, _, body := h.raw("GET", path+"&format=text", h.Admin, "", nil)
		if st != step.want || (step.want == 409 && !strings.Contains(string(body), "only for a valid licence")) {
			t.Fatalf("after %s: %d %s, want %d", step.action, st, body, step.want)
		}
		if st, _, _ := h.fetch(mine, h.holderToken(companyID, "福建某某科技有限公司")); st != step.want {
			t.Fatalf("holder after %s: %d, want %d", step.action, st, step.want)
		}
	}
}

// TestCompactQRKeysAndSize: an authority whose documents are sealed with
// SM2 signs compact QR codes with its ES256 key; one whose fields make a
// text over 800 characters gets 400 naming fields and the length.
func TestCompactQRKeysAndSize(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "SM2"}, nil); st != 201 {
		t.Fatalf("add SM2 key: %d", st)
	}
	if st := h.call("PATCH", "/api/v1/authorities/"+marketCode, h.Admin, map[string]string{"document_algorithm": "SM2"}, nil); st != 200 {
		t.Fatalf("document algorithm SM2: %d", st)
	}
	body := issueBody()
	long := make([]rune, 300) // CJK that ZLIB cannot shrink: no repeats
	for i := range long {
		long[i] = rune(0x4e00 + i*37)
	}
	body["data"] = map[string]any{"legal_representative": string(long), "established_on": "2020-05-01"}
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, body, &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	path := "/api/v1/certificates/" + issued.ID + "/qr?form=compact&format=text"
	var bad errorAnswer
	if st := h.call("GET", path, h.Admin, nil, &bad); st != 400 || !bad.names("fields", "over the 800") || !bad.names("fields", "shareable fields") {
		t.Fatalf("too long: %d %+v", st, bad.Error)
	}
	st, hdr, text := h.raw("GET", path+"&fields=established_on", h.Admin, "", nil)
	if st != 200 {
		t.Fatalf("one field: %d %s", st, text)
	}
	if res := h.verifyCompact(string(text), hdr.Get("X-Compact-QR-Kid")); res.Alg != "ES256" {
		t.Fatalf("signed with %s, want the authority's ES256 key", res.Alg)
	}
}

// TestLicenceTypesCatalogue: the public catalogue names each type and its
// shareable fields by number, with Chinese and English labels, and
// revalidates by ETag.
func TestLicenceTypesCatalogue(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	st, hdr, body := h.raw("GET", "/.well-known/certhub-licence-types", "", "", nil)
	if st != 200 || hdr.Get("Content-Type") != "application/json" || !strings.Contains(hdr.Get("Cache-Control"), "public") {
		t.Fatalf("%d %v", st, hdr)
	}
	var cat struct {
		Profile string
		Types   map[string]struct {
			Name       string
			HolderKind string `json:"holder_kind"`
			Fields     map[string]struct {
				Name, Type string
				Label      map[string]string
			}
		}
	}
	if err := json.Unmarshal(body, &cat); err != nil {
		t.Fatal(err)
	}
	typ := cat.Types[licence]
	if cat.Profile != "CH1" || typ.Name != "营业执照" || typ.HolderKind != "organisation" || len(typ.Fields) != 3 {
		t.Fatalf("catalogue %s", body)
	}
	if f := typ.Fields["2"]; f.Name != "established_on" || f.Type != "date" || f.Label["zh-CN"] != "成立日期" || f.Label["en"] != "established_on" {
		t.Fatalf("field 2: %+v", f)
	}
	if _, ok := typ.Fields["4"]; ok {
		t.Fatal("a field that is not shareable is listed")
	}
	if st, _, _ := h.raw("GET", "/.well-known/certhub-licence-types", "", "", nil, "If-None-Match", hdr.Get("ETag")); st != 304 {
		t.Fatalf("If-None-Match: %d, want 304", st)
	}
	// Field numbers never move: a type cannot be defined again with its
	// fields reordered (or fewer), so the catalogue stays as it was.
	again := map[string]any{"code": licence, "name": "营业执照", "defining_authority": marketCode, "holder_kind": "organisation",
		"fields": []map[string]any{
			{"name": "capital", "label": "注册资本（万元）", "type": "number", "shareable": true},
			{"name": "legal_representative", "label": "法定代表人", "type": "string", "required": true, "shareable": true},
		}}
	if st := h.call("POST", "/api/v1/types", h.Admin, again, nil); st != 409 {
		t.Fatalf("redefining a type: %d, want 409", st)
	}
	if _, hdr2, _ := h.raw("GET", "/.well-known/certhub-licence-types", "", "", nil); hdr2.Get("ETag") != hdr.Get("ETag") {
		t.Fatal("the catalogue changed after a refused redefinition")
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tslStatus reads entry idx of Token Status List list as the public
// endpoint serves it: two bits an entry, ZLIB, least-significant first.
func tslStatus(t *testing.T, h *hub, list, idx int) int {
	t.Helper()
	var p struct {
		StatusList struct {
			Bits int    `json:"bits"`
			Lst  string `json:"lst"`
		} `json:"status_list"`
	}
	payloadOf(t, string(h.getPublic(statuslist.TSLPath(list))), &p)
	z, err := base64.RawURLEncoding.DecodeString(p.StatusList.Lst)
	if err != nil || p.StatusList.Bits != 2 {
		t.Fatalf("lst %v, bits %d", err, p.StatusList.Bits)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || idx/4 >= len(raw) {
		t.Fatalf("list of %d bytes (%v), index %d", len(raw), err, idx)
	}
	return int(raw[idx/4]>>(2*(idx%4))) & 3
}
