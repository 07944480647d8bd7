package web_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/web"
)

// client is a browser-like HTTP client: cookies, no automatic redirects.
type client struct {
	t    *testing.T
	h    *hubtest.Hub
	http *http.Client
}

func newClient(t *testing.T, h *hubtest.Hub, follow bool) *client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &client{t: t, h: h, http: c}
}

func (c *client) do(req *http.Request) (int, string, http.Header) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) get(path string) (int, string, http.Header) {
	req, _ := http.NewRequest("GET", c.h.Srv.URL+path, nil)
	return c.do(req)
}

// csrf returns the double-submit token, fetching a page to get its cookie.
func (c *client) csrf() string {
	u, _ := url.Parse(c.h.Srv.URL)
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == "certhub_csrf" {
			return k.Value
		}
	}
	c.get("/wallet/login")
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == "certhub_csrf" {
			return k.Value
		}
	}
	c.t.Fatal("no CSRF cookie")
	return ""
}

func (c *client) post(path string, form url.Values) (int, string, http.Header) {
	if form.Get("csrf") == "" && form.Get("nocsrf") == "" {
		form.Set("csrf", c.csrf())
	}
	req, _ := http.NewRequest("POST", c.h.Srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

const (
	holderID = "11010519491231002X"
)

// signIn runs the identity provider's code flow for a person.
func signIn(t *testing.T, h *hubtest.Hub, who string, roles []string) (*client, int, string) {
	c := newClient(t, h, true)
	claims := h.IDP.Claims(holderID, "张三")
	if roles != nil {
		claims["roles"] = roles
	}
	h.IDP.Next = claims
	st, body, _ := c.get("/auth/login?for=" + who)
	return c, st, body
}

func TestOIDCWebSignIn(t *testing.T) {
	h := hubtest.New(t)
	c, st, body := signIn(t, h, "holder", nil)
	if st != 200 || !strings.Contains(body, "张三") || !strings.Contains(body, "我的证照") {
		t.Fatalf("holder sign-in ends with %d:\n%.500s", st, body)
	}
	if st, _, _ := c.get("/verify"); st != 403 {
		t.Fatalf("a holder on the clerk page: %d", st)
	}
	if _, st, body := signIn(t, h, "clerk", []string{"clerk"}); st != 200 || !strings.Contains(body, "证照核验") {
		t.Fatalf("clerk sign-in: %d", st)
	}
	if _, st, _ := signIn(t, h, "clerk", []string{"citizen"}); st != 403 {
		t.Fatalf("sign-in as clerk without the role: %d", st)
	}
	// A callback with a state that is not this browser's is refused.
	c2 := newClient(t, h, false)
	c2.get("/auth/login?for=holder")
	if st, _, _ := c2.get("/auth/callback?code=x&state=forged"); st != 400 {
		t.Fatalf("forged state: %d", st)
	}
}

// TestWalletSaysWhereArchivedHistoryIs: once months of the ledger are
// archived, the holder's history says before which month its entries are
// not listed, in Chinese and in English.
func TestWalletSaysWhereArchivedHistoryIs(t *testing.T) {
	h := hubtest.New(t)
	c, st, body := signIn(t, h, "holder", nil)
	if st != 200 || strings.Contains(body, "accesses-archived") {
		t.Fatalf("wallet before any archive: %d, archive line shown: %v", st, strings.Contains(body, "accesses-archived"))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The record alone is what the page reads (the archive itself is
	// storetest's and the end-to-end test's).
	must(h.Store.AddAuditArchive(context.Background(), &exchange.AuditArchive{Month: "2025-12", FirstSeq: 1, LastSeq: 1,
		PrevHash: strings.Repeat("0", 64), LastHash: strings.Repeat("1", 64), Key: exchange.ArchiveKey("2025-12"), SHA256: strings.Repeat("2", 64), ArchivedAt: time.Now()}))
	if st, body, _ := c.get("/wallet"); st != 200 || !strings.Contains(body, "2026-01 之前的使用记录已归档") {
		t.Fatalf("wallet after archiving 2025-12: %d, no archive line in Chinese", st)
	}
	if st, body, _ := c.get("/wallet?lang=en"); st != 200 || !strings.Contains(body, "Entries before 2026-01 are archived") {
		t.Fatalf("wallet in English after archiving 2025-12: %d, no archive line", st)
	}
}

// sessions returns an anonymous, a holder's, a clerk's and an
// administrator's client.
func sessions(t *testing.T, h *hubtest.Hub) map[string]*client {
	holder, _, _ := signIn(t, h, "holder", nil)
	clerk := newClient(t, h, true)
	secret, hash := exchange.NewSecret()
	if err := h.Store.CreateToken(context.Background(), &exchange.Token{ID: "tok_clerk", Name: "窗口", Role: exchange.RoleClerk, Hash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := clerk.post("/verify/login", url.Values{"token": {secret}}); st != 200 {
		t.Fatalf("clerk token sign-in: %d", st)
	}
	admin := newClient(t, h, true)
	if st, _, _ := admin.post("/admin/login", url.Values{"token": {h.Admin}}); st != 200 {
		t.Fatalf("admin sign-in: %d", st)
	}
	out := map[string]*client{"": newClient(t, h, false), "holder": holder, "clerk": clerk, "admin": admin}
	for _, c := range out {
		c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return out
}

// TestPageAuthorization opens every page as nobody, a holder and a clerk.
func TestPageAuthorization(t *testing.T) {
	h := hubtest.New(t)
	clients := sessions(t, h)
	for _, rt := range web.Routes {
		path := strings.NewReplacer("{token}", strings.Repeat("A", 43), "{id}", "shr_none").Replace(rt.Pattern)
		for who, c := range clients {
			var st int
			var hdr http.Header
			if rt.Method == "GET" {
				st, _, hdr = c.get(path)
			} else {
				st, _, hdr = c.post(path, url.Values{})
			}
			name := rt.Method + " " + rt.Pattern + " as " + map[string]string{"": "anonymous"}[who] + who
			switch {
			case st >= 500:
				t.Errorf("%s: %d", name, st)
			case rt.Owner == "" && (rt.Pattern == "/verify/login" || rt.Pattern == "/admin/login") && rt.Method == "POST":
				if st != 401 { // no token given: a failed sign-in
					t.Errorf("%s: %d, want 401", name, st)
				}
			case rt.Owner == "":
				if st == 401 || st == 403 {
					t.Errorf("%s: public page answered %d", name, st)
				}
			case who == "" && rt.Method == "GET":
				if st != 303 || !strings.Contains(hdr.Get("Location"), "/login") {
					t.Errorf("%s: %d %s, want a redirect to sign in", name, st, hdr.Get("Location"))
				}
			case who == "":
				if st != 401 {
					t.Errorf("%s: %d, want 401", name, st)
				}
			case who != rt.Owner:
				if st != 403 {
					t.Errorf("%s: %d, want 403", name, st)
				}
			default:
				if st == 401 || st == 403 {
					t.Errorf("%s: the owner got %d", name, st)
				}
			}
		}
	}
	// Revoking a clerk's API token ends the clerk's session at once.
	if err := h.Store.RevokeToken(context.Background(), "tok_clerk", time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := clients["clerk"].get("/verify"); st != 303 {
		t.Fatalf("clerk page after token revocation: %d", st)
	}
}

func TestPagesBadInput(t *testing.T) {
	h := hubtest.New(t)
	clients := sessions(t, h)
	holder, clerk := clients["holder"], clients["clerk"]

	// Forms without the CSRF token are refused.
	if st, _, _ := holder.post("/wallet/shares", url.Values{"nocsrf": {"1"}, "certificate_id": {"x"}}); st != 403 {
		t.Fatalf("share without CSRF token: %d", st)
	}
	if st, _, _ := holder.post("/wallet/shares", url.Values{"csrf": {"wrong-token-wrong-token-wrong-token"}}); st != 403 {
		t.Fatalf("share with a wrong CSRF token: %d", st)
	}
	// Sharing a certificate that is not yours: refused with a reason, nothing made.
	if st, body, _ := holder.post("/wallet/shares", url.Values{"certificate_id": {"1.2.156.3005.2.x"}}); st != 400 || !strings.Contains(body, "identifier") {
		t.Fatalf("bad share: %d", st)
	}
	// Demo sign-in does not exist outside demo mode.
	if st, _, _ := clients[""].post("/wallet/demo-login", url.Values{"holder": {"0"}}); st != 404 {
		t.Fatalf("demo sign-in outside demo mode: %d", st)
	}
	if st, _, _ := clients[""].post("/verify/demo-login", url.Values{}); st != 404 {
		t.Fatalf("demo clerk sign-in outside demo mode: %d", st)
	}

	upload := func(name string, data []byte) (int, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", clerk.csrf())
		fw, _ := mw.CreateFormFile("image", name)
		_, _ = fw.Write(data)
		_ = mw.Close()
		req, _ := http.NewRequest("POST", h.Srv.URL+"/verify/upload", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		st, body, _ := clerk.do(req)
		return st, body
	}
	if st, body := upload("notes.png", []byte("plain text")); st != 422 || !strings.Contains(body, "无法读取图片") {
		t.Fatalf("not an image: %d", st)
	}
	if st, _ := upload("huge.png", bytes.Repeat([]byte{0}, 10<<20)); st != 413 {
		t.Fatalf("oversized upload: %d", st)
	}
	// Typed input that is nothing the hub knows gets a clear answer.
	if st, body, _ := clerk.post("/verify/check", url.Values{"input": {"hello"}}); st != 200 || !strings.Contains(body, "无法识别") {
		t.Fatalf("unrecognised input: %d", st)
	}
	// Pages carry the security headers.
	_, _, hdr := clients[""].get("/s/" + strings.Repeat("A", 43))
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if hdr.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, hdr.Get(k), want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
}

// TestShareRateLimit: guessing share tokens is rate-limited per client.
func TestShareRateLimit(t *testing.T) {
	h := hubtest.New(t)
	limited := *h.Pages
	limited.ShareRatePerMinute = 5
	r := chi.NewRouter()
	r.Use(middleware.ClientIPFromRemoteAddr)
	limited.Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		resp, err := http.Get(srv.URL + "/s/" + strings.Repeat("A", 42) + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[404] != 5 || codes[429] != 3 {
		t.Fatalf("answers = %v, want 5×404 then 3×429", codes)
	}
}

// TestClerkVerificationIsAudited: every check a clerk makes at the window
// is in the ledger under that clerk, with what the page disclosed, and is
// counted as a verification; the holder sees it in their wallet's history.
func TestClerkVerificationIsAudited(t *testing.T) {
	h, _ := demoHub(t)
	ctx := context.Background()
	res, err := h.Certs.Issue(ctx, certificates.Scope{}, demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(1, 2)), 4242)), nil)
	if err != nil {
		t.Fatal(err)
	}
	clerk := sessions(t, h)["clerk"]
	if st, body, _ := clerk.post("/verify/check", url.Values{"input": {string(res.Document)}}); st != 200 || !strings.Contains(body, "有效") {
		t.Fatalf("document check: %d", st)
	}
	if st, _, _ := clerk.post("/verify/check", url.Values{"input": {res.Certificate.ID}}); st != 200 {
		t.Fatalf("identifier check: %d", st)
	}
	// Input that is nothing the hub knows discloses nothing and is not an access.
	clerk.post("/verify/check", url.Values{"input": {"hello"}})

	entries, err := h.Ledger.Store.HolderAudit(ctx, res.Certificate.HolderIndex, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []exchange.AuditEntry
	for _, e := range entries {
		if e.Action == "clerk_verify" {
			got = append(got, e)
		}
	}
	if len(got) != 2 {
		t.Fatalf("clerk_verify entries for the holder = %d, want 2: %+v", len(got), entries)
	}
	var withFields int
	for _, e := range got {
		if e.Actor != "clerk:tok_clerk" || e.ActorName != "窗口" || e.Outcome != "valid" || e.Purpose != "窗口核验" ||
			len(e.Certificates) != 1 || e.Certificates[0] != res.Certificate.ID {
			t.Errorf("entry %+v: want clerk:tok_clerk, 窗口, 窗口核验, valid, %s", e, res.Certificate.ID)
		}
		if len(e.Fields) > 0 {
			withFields++
		}
	}
	// The document's data was shown to the clerk; a bare identifier shows none.
	if withFields != 1 {
		t.Errorf("entries that disclosed fields = %d, want 1 (the document check)", withFields)
	}
	now := time.Now()
	rows, err := h.Ledger.Report(ctx, "year", now.AddDate(0, 0, -1).Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02"))
	if err != nil {
		t.Fatal(err)
	}
	var verifications int64
	for _, r := range rows {
		if r.Action == "verification" && r.Actor == "clerk:tok_clerk" {
			verifications += r.Count
		}
	}
	if verifications != 2 {
		t.Fatalf("verifications counted = %d, want 2 (%+v)", verifications, rows)
	}
}

// TestAdminReports: an administrator signs in with an admin API token,
// reads the statistics and downloads them as CSV; bad dates name the field;
// revoking the token ends the session.
func TestAdminReports(t *testing.T) {
	h := hubtest.New(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := h.Ledger.Record(ctx, exchange.AuditEntry{Actor: "consumer:tok_market", Action: "lookup", Purpose: "食品经营许可", CaseID: "2026-001"}); err != nil {
			t.Fatal(err)
		}
	}
	secret, hash := exchange.NewSecret()
	if err := h.Store.CreateToken(ctx, &exchange.Token{ID: "tok_ops", Name: "运维", Role: exchange.RoleAdmin, Hash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, h, false)
	if st, body, _ := admin.post("/admin/login", url.Values{"token": {"chk_wrong"}}); st != 401 || !strings.Contains(body, "令牌无效") {
		t.Fatalf("wrong token: %d", st)
	}
	if st, _, hdr := admin.post("/admin/login", url.Values{"token": {secret}}); st != 303 || hdr.Get("Location") != "/admin/reports" {
		t.Fatalf("admin token sign-in: %d", st)
	}
	st, body, _ := admin.get("/admin/reports?period=year")
	if st != 200 || !strings.Contains(body, `id="usage-chart"`) || !strings.Contains(body, `data-count="3"`) || !strings.Contains(body, "consumer:tok_market") {
		t.Fatalf("report page: %d\n%.1500s", st, body)
	}
	st, body, hdr := admin.get("/admin/reports.csv?period=year")
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "\ufeffperiod,action,actor,type,authority,purpose,count\n") ||
		!strings.Contains(body, ",lookup,consumer:tok_market,,,食品经营许可,3\n") {
		t.Fatalf("CSV: %d %s\n%s", st, hdr.Get("Content-Type"), body)
	}
	for q, field := range map[string]string{"period=week": "period", "from=2026-02-30": "from", "from=2026-05-01&to=2026-04-01": "to"} {
		if st, body, _ := admin.get("/admin/reports?" + q); st != 400 || !strings.Contains(body, field) || strings.Contains(body, `id="usage-chart"`) {
			t.Errorf("%s: %d, want 400 naming %s", q, st, field)
		}
		if st, _, _ := admin.get("/admin/reports.csv?" + q); st != 400 {
			t.Errorf("CSV %s: %d, want 400", q, st)
		}
	}
	if st, _, hdr := admin.post("/logout", url.Values{}); st != 303 || hdr.Get("Location") != "/admin/login" {
		t.Fatalf("admin sign-out: %d %s", st, hdr.Get("Location"))
	}
	if st, _, _ := admin.get("/admin/reports"); st != 303 {
		t.Fatalf("reports after sign-out: %d", st)
	}
	admin.post("/admin/login", url.Values{"token": {secret}})
	if err := h.Store.RevokeToken(ctx, "tok_ops", time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, _, hdr := admin.get("/admin/reports"); st != 303 || hdr.Get("Location") != "/admin/login" {
		t.Fatalf("after revocation: %d %s", st, hdr.Get("Location"))
	}
}

// TestAdminImportItems: an administrator uploads a catalog on the page; a
// bad one is refused with every problem listed and nothing saved; a good
// one is imported and listed with its flags.
func TestAdminImportItems(t *testing.T) {
	h := hubtest.New(t)
	ctx := context.Background()
	if err := demo.Catalog(ctx, h.Certs); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, h, false)
	if st, _, _ := admin.post("/admin/login", url.Values{"token": {h.Admin}}); st != 303 {
		t.Fatalf("sign-in: %d", st)
	}
	upload := func(name, data string) (int, string, http.Header) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("csrf", admin.csrf())
		fw, _ := mw.CreateFormFile("catalog", name)
		_, _ = fw.Write([]byte(data))
		_ = mw.Close()
		req, _ := http.NewRequest("POST", h.Srv.URL+"/admin/items", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return admin.do(req)
	}
	bad := "事项编码,事项名称,实施部门,材料名称,是否证照,证照类型\nX-1,某事项,某局,许可证,是,11330100MB0000001R999\nX-2,,某局,申请书,否,\n"
	st, body, _ := upload("bad.csv", bad)
	if st != 400 || !strings.Contains(body, `id="import-problems"`) || !strings.Contains(body, "row 2.types[0]") ||
		!strings.Contains(body, "row 3.item_name") {
		t.Fatalf("bad catalog: %d\n%.2000s", st, body)
	}
	if items, _ := h.API.Items.Store.ListItems(ctx); len(items) != 0 {
		t.Fatalf("a refused catalog was saved: %d items", len(items))
	}
	good := "- code: G-1\n  name: 个体工商户设立登记\n  department: 某局\n  materials:\n" +
		"    - {name: 经营场所使用证明, certificate: true, types: [" + demo.Resources + "001], legal_basis: 《细则》}\n" +
		"    - {name: 其他有关材料}\n"
	st, _, hdr := upload("items.yaml", good)
	if st != 303 || hdr.Get("Location") != "/admin/items?imported=1" {
		t.Fatalf("good catalog: %d %s", st, hdr.Get("Location"))
	}
	st, body, _ = admin.get("/admin/items?imported=1")
	if st != 200 || !strings.Contains(body, `id="item-G-1"`) || !strings.Contains(body, `data-flag="catch_all"`) || !strings.Contains(body, "不动产权证书") {
		t.Fatalf("catalog page: %d\n%.2000s", st, body)
	}
	// Only administrators import.
	clerk := newClient(t, h, false)
	if st, _, _ := clerk.post("/admin/items", url.Values{}); st != 401 && st != 403 {
		t.Fatalf("anonymous import: %d", st)
	}
}

// TestVerifyPageOpensOnTheQRsLicence: the QR printed on a licence file
// holds /verify?id=<identifier>; the clerk's page opens on that licence's
// live status, and after a revocation says so.
func TestVerifyPageOpensOnTheQRsLicence(t *testing.T) {
	h, _ := demoHub(t)
	ctx := context.Background()
	res, err := h.Certs.Issue(ctx, certificates.Scope{}, demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(5, 6)), 4444)), nil)
	if err != nil {
		t.Fatal(err)
	}
	clerk := sessions(t, h)["clerk"]
	path := "/verify?id=" + url.QueryEscape(res.Certificate.ID)
	if st, body, _ := clerk.get(path); st != 200 || !strings.Contains(body, "有效") || !strings.Contains(body, res.Certificate.ID) {
		t.Fatalf("verify?id=: %d", st)
	}
	if _, err := h.Certs.Lifecycle(ctx, certificates.Scope{}, res.Certificate.ID, certificates.Revoke, "以欺骗手段取得"); err != nil {
		t.Fatal(err)
	}
	if st, body, _ := clerk.get(path); st != 200 || !strings.Contains(body, "撤销") {
		t.Fatalf("verify?id= after revocation: %d", st)
	}
	if st, body, _ := clerk.get("/verify"); st != 200 || strings.Contains(body, res.Certificate.ID) {
		t.Fatalf("plain /verify: %d", st)
	}
}
