package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/hubtest"
)

// hub is an embedded-default hub served over real HTTP on a random port,
// with request helpers.
type hub struct {
	*hubtest.Hub
	t testing.TB
}

func newHub(t testing.TB, opts ...hubtest.Option) *hub {
	t.Helper()
	hh := hubtest.New(t, opts...)
	return &hub{Hub: hh, t: t}
}

// holderToken is a good identity token of the test provider for a holder.
func (h *hub) holderToken(id, name string) string { return h.IDP.Mint(h.IDP.Claims(id, name)) }

// call sends a request and decodes a JSON answer into out (if not nil).
func (h *hub) call(method, path, token string, body any, out any, headers ...string) int {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.Srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// token creates a token for a role; a consumer's is consumerKey's with
// the test purposes.
func (h *hub) token(role exchange.Role, authority string) string {
	h.t.Helper()
	if role == exchange.RoleConsumer {
		key, _ := h.consumerKey(testPurposes...)
		return key
	}
	var out struct{ Token string }
	if st := h.call("POST", "/api/v1/tokens", h.Admin, map[string]string{"name": string(role), "role": string(role), "authority": authority}, &out); st != 201 {
		h.t.Fatalf("create %s token: %d", role, st)
	}
	return out.Token
}

// testPurposes are the purpose codes consumerKey's agreement allows.
var testPurposes = []string{"SX-001", "SX-002"}

// purpose adds a code to the purpose catalog if it is not there.
func (h *hub) purpose(code string) {
	h.t.Helper()
	st := h.call("POST", "/api/v1/purposes", h.Admin, map[string]string{"code": code, "name": "测试事项 " + code, "kind": "service_item"}, nil)
	if st != 201 && st != 409 {
		h.t.Fatalf("create purpose %s: %d", code, st)
	}
}

// consumerKey registers a department system with an approved agreement
// over the licence type (every field, the holder's name and the document)
// for the purposes, and returns an API key and the consumer's id.
func (h *hub) consumerKey(purposes ...string) (key, id string) {
	h.t.Helper()
	var c struct{ ID string }
	if st := h.call("POST", "/api/v1/consumers", h.Admin, map[string]string{"name": "受理平台", "uscc": companyID}, &c); st != 201 {
		h.t.Fatalf("create consumer: %d", st)
	}
	h.agreement(c.ID, exchange.Grant{Type: licence, Fields: []string{"legal_representative", "established_on", "capital", "listed", "holder_name"}, Document: true}, purposes...)
	var out struct{ Token string }
	if st := h.call("POST", "/api/v1/consumers/"+c.ID+"/keys", h.Admin, map[string]string{"name": "key"}, &out); st != 201 {
		h.t.Fatalf("create consumer key: %d", st)
	}
	return out.Token, c.ID
}

// agreement files and approves an agreement valid for a year from today.
func (h *hub) agreement(consumer string, g exchange.Grant, purposes ...string) string {
	h.t.Helper()
	for _, p := range purposes {
		h.purpose(p)
	}
	today := h.Certs.Today()
	var a struct{ ID string }
	body := map[string]any{"consumer": consumer, "grants": []exchange.Grant{g}, "purposes": purposes,
		"valid_from": today.String(), "valid_until": today.AddDays(365).String()}
	if st := h.call("POST", "/api/v1/agreements", h.Admin, body, &a); st != 201 {
		h.t.Fatalf("request agreement: %d", st)
	}
	if st := h.call("POST", "/api/v1/agreements/"+a.ID+"/approve", h.Admin, map[string]string{}, nil); st != 200 {
		h.t.Fatalf("approve agreement: %d", st)
	}
	return a.ID
}

// Fixture codes: a market-supervision bureau and its business-licence type.
const (
	marketCode = "11330100MB0000001R"
	otherCode  = "11330100MB0000002W"
	licence    = marketCode + "001"
	companyID  = "91350100M000100Y43"
	personID   = "11010519491231002X"
)

func (h *hub) seed() {
	h.t.Helper()
	h.seedWith("")
}

// seedWith is seed with the market bureau's seal algorithm given ("" is
// the default, ES256).
func (h *hub) seedWith(marketAlg string) {
	h.t.Helper()
	for _, a := range []map[string]string{{"code": marketCode, "name": "杭州市市场监督管理局", "algorithm": marketAlg}, {"code": otherCode, "name": "杭州市规划和自然资源局", "algorithm": "EdDSA"}} {
		if st := h.call("POST", "/api/v1/authorities", h.Admin, a, nil); st != 201 {
			h.t.Fatalf("create authority: %d", st)
		}
	}
	typ := map[string]any{"code": licence, "name": "营业执照", "defining_authority": marketCode, "holder_kind": "organisation",
		"fields": []map[string]any{
			{"name": "legal_representative", "label": "法定代表人", "type": "string", "required": true, "shareable": true},
			{"name": "established_on", "label": "成立日期", "type": "date", "required": true, "shareable": true},
			{"name": "capital", "label": "注册资本（万元）", "type": "number", "required": false, "shareable": true},
			{"name": "listed", "label": "上市", "type": "boolean", "required": false, "shareable": false},
		}, "max_validity_days": 3650}
	if st := h.call("POST", "/api/v1/types", h.Admin, typ, nil); st != 201 {
		h.t.Fatalf("create type: %d", st)
	}
}

func issueBody() map[string]any {
	return map[string]any{"type": licence, "authority": marketCode,
		"holder":     map[string]string{"kind": "organisation", "id": companyID, "name": "福建某某科技有限公司"},
		"data":       map[string]any{"legal_representative": "张三", "established_on": "2020-05-01", "capital": 100},
		"valid_from": "2020-05-01", "valid_until": "2030-04-27"}
}

// documents counts the objects in the document directory.
func (h *hub) documents() int {
	n := 0
	_ = filepath.WalkDir(h.DocsDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, ".tmp") {
			n++
		}
		return nil
	})
	return n
}

// rows counts certificate versions in the store.
func (h *hub) rows() int {
	h.t.Helper()
	n := 0
	for _, st := range []certificates.Status{"", certificates.StatusSuperseded} {
		cs, _, err := h.Store.FindCertificates(context.Background(), certificates.Query{Status: st, Limit: 1000, Today: h.Certs.Today()})
		if err != nil {
			h.t.Fatal(err)
		}
		n += len(cs)
	}
	return n
}

// ledger reads every entry of the audit ledger.
func (h *hub) ledger() []exchange.AuditEntry {
	h.t.Helper()
	var out []exchange.AuditEntry
	err := h.Ledger.Store.ScanAudit(context.Background(), 1, 0, func(r exchange.LedgerRecord) error {
		var e exchange.AuditEntry
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// raw sends a request with a raw body and returns the status, headers and
// body of the answer.
func (h *hub) raw(method, path, token, contentType string, body []byte, headers ...string) (int, http.Header, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.Srv.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// fetch GETs a path and returns status, content type and body.
func (h *hub) fetch(path, token string, headers ...string) (int, string, []byte) {
	h.t.Helper()
	st, hdr, body := h.raw("GET", path, token, "", nil, headers...)
	return st, hdr.Get("Content-Type"), body
}

// sealingHub is a hub whose market bureau holds an SM2 key beside its
// ES256 one (OFD and PDF files), with one issued licence of the company,
// and that company's holder token.
func sealingHub(t *testing.T) (h *hub, certID, holder string) {
	t.Helper()
	h = newHub(t)
	h.seed()
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "SM2"}, nil); st != 201 {
		t.Fatalf("add SM2 key: %d", st)
	}
	var issued struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	return h, issued.ID, h.holderToken(companyID, "福建某某科技有限公司")
}
