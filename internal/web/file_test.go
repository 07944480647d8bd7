package web_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/internal/web"
)

// fileHub is a hub with the demo catalog, a company whose business licence
// the demo sign-in's holder 0 holds, and another company's.
type fileHub struct {
	*hubtest.Hub
	org, other   demo.Org
	mine, theirs *certificates.Certificate
	g            *demo.Generator
}

func newFileHub(t *testing.T) *fileHub {
	t.Helper()
	h := hubtest.New(t)
	ctx := context.Background()
	if err := demo.Catalog(ctx, h.Certs); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 44))
	fh := &fileHub{Hub: h, org: demo.NewOrg(rng, 4401), other: demo.NewOrg(rng, 4402), g: demo.NewGenerator(44, h.Certs.Today())}
	fh.mine = fh.issue(t, fh.g.Business(fh.org))
	fh.theirs = fh.issue(t, fh.g.Business(fh.other))
	h.Pages.Demo = []web.DemoHolder{{Kind: certificates.Organisation, ID: fh.org.USCC, Name: fh.org.Name}}
	return fh
}

func (fh *fileHub) issue(t *testing.T, req *certificates.IssueRequest) *certificates.Certificate {
	t.Helper()
	res, err := fh.Certs.Issue(context.Background(), certificates.Scope{}, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Certificate
}

// holder signs the company in to its wallet.
func (fh *fileHub) holder(t *testing.T) *client {
	t.Helper()
	c := newClient(t, fh.Hub, false)
	if st, _, _ := c.post("/wallet/demo-login", url.Values{"holder": {"0"}}); st != 303 {
		t.Fatalf("demo sign-in: %d", st)
	}
	return c
}

func (fh *fileHub) share(t *testing.T, req *exchange.ShareRequest) string {
	t.Helper()
	req.CertificateID = fh.mine.ID
	_, token, err := fh.Shares.Create(context.Background(), exchange.Holder{Kind: certificates.Organisation, ID: fh.org.USCC}, req)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// pdfText is what poppler's pdftotext reads from a PDF in content order
// (-raw: the watermark is set at an angle, which the layout mode scatters),
// without white space (a long value may be broken across lines).
func pdfText(t *testing.T, pdf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.pdf")
	if err := os.WriteFile(path, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.Tool(t, "pdftotext", "Debian package poppler-utils"), "-raw", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), "")
}

// TestWalletFiles: the wallet offers each certificate as OFD and PDF; the
// links give a sealed OFD package and a signed PDF of the holder's own
// licence, 404 for another holder's, 400 for an unknown format, and a 409
// page naming the missing key when the authority cannot seal that format.
func TestWalletFiles(t *testing.T) {
	fh := newFileHub(t)
	c := fh.holder(t)
	base := "/wallet/certificates/" + fh.mine.ID + "/file?format="
	st, body, _ := c.get("/wallet")
	if st != 200 || !strings.Contains(body, "下载 OFD") || !strings.Contains(body, "下载 PDF") || !strings.Contains(body, `href="`+base+"pdf") {
		t.Fatalf("wallet: %d, no download links:\n%.3000s", st, body)
	}
	if _, body, _ := c.get("/wallet?lang=en"); !strings.Contains(body, "Download OFD") || !strings.Contains(body, "Download PDF") {
		t.Fatal("the English wallet has no download links")
	}

	for _, tc := range []struct {
		format, contentType string
		magic               []byte
	}{
		{"ofd", "application/ofd", []byte("PK\x03\x04")},
		{"pdf", "application/pdf", []byte("%PDF-")},
	} {
		st, body, hdr := c.get(base + tc.format)
		if st != 200 || hdr.Get("Content-Type") != tc.contentType || !bytes.HasPrefix([]byte(body), tc.magic) {
			t.Fatalf("%s: %d %s %q", tc.format, st, hdr.Get("Content-Type"), body[:min(len(body), 200)])
		}
		if cd := hdr.Get("Content-Disposition"); cd != `attachment; filename="`+fh.mine.ID+"."+tc.format+`"` {
			t.Fatalf("%s: Content-Disposition %q", tc.format, cd)
		}
		if tc.format == "pdf" {
			text := pdfText(t, body)
			if !strings.Contains(text, fh.org.Name) || !strings.Contains(text, fh.org.Address) {
				t.Fatalf("the holder's PDF lacks their name or address:\n%s", text)
			}
		}
	}

	if st, body, hdr := c.get("/wallet/certificates/" + fh.theirs.ID + "/file?format=pdf"); st != 404 || strings.HasPrefix(body, "%PDF") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("another holder's certificate: %d %s", st, hdr.Get("Content-Type"))
	}
	if st, _, _ := c.get(base + "docx"); st != 400 {
		t.Fatalf("format docx: %d, want 400", st)
	}
	if st, _, hdr := newClient(t, fh.Hub, false).get(base + "pdf"); st != 303 || !strings.Contains(hdr.Get("Location"), "/wallet/login") {
		t.Fatalf("signed out: %d %s", st, hdr.Get("Location"))
	}

	// An authority that seals with EdDSA only: no SM2 key for an OFD, no
	// ES256 key for a PDF. The page says which, and no file comes.
	ctx := context.Background()
	eddsaOnly := demo.Code("11330100MB0000099")
	if err := fh.Certs.CreateAuthority(ctx, &certificates.Authority{Code: eddsaOnly, Name: "某某市市场监督管理局分局"}, "EdDSA"); err != nil {
		t.Fatal(err)
	}
	ty := demo.Types()[0]
	ty.Code, ty.DefiningAuthority = eddsaOnly+"001", eddsaOnly
	if err := fh.Certs.CreateType(ctx, ty); err != nil {
		t.Fatal(err)
	}
	req := fh.g.Business(fh.org)
	req.Type, req.Authority = ty.Code, eddsaOnly
	unsealable := fh.issue(t, req)
	for format, want := range map[string]string{"ofd": "SM2", "pdf": "ES256"} {
		st, body, hdr := c.get("/wallet/certificates/" + unsealable.ID + "/file?lang=zh&format=" + format)
		if st != 409 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(body, "无法生成这种格式的证照文件") || !strings.Contains(body, want) {
			t.Fatalf("%s without the key: %d %s\n%.2000s", format, st, hdr.Get("Content-Type"), body)
		}
	}
}

// TestShareFile: the share page's PDF holds only what the share grants,
// the holder's name masked unless shown, the purpose (or 仅供查验) as a
// watermark; a download is a view, counted and capped like the page's;
// an expired, revoked or used-up share gets the page's "not valid" answer
// and no file, and a revoked certificate no fresh file.
func TestShareFile(t *testing.T) {
	fh := newFileHub(t)
	anon := newClient(t, fh.Hub, false)
	holder := exchange.Holder{Kind: certificates.Organisation, ID: fh.org.USCC}
	ctx := context.Background()
	capital, _ := fh.mine.Data["registered_capital"].(string)
	scope, _ := fh.mine.Data["business_scope"].(string)
	if capital == "" || scope == "" {
		t.Fatalf("demo licence without capital or scope: %v", fh.mine.Data)
	}
	tenMinutes := 600
	expiring := fh.share(t, &exchange.ShareRequest{Fields: []string{"legal_representative"}, ExpiresInSeconds: &tenMinutes})

	token := fh.share(t, &exchange.ShareRequest{Fields: []string{"legal_representative"}, Purpose: "办理银行开户"})
	st, page, _ := anon.get("/s/" + token)
	if st != 200 || !strings.Contains(page, `href="/s/`+token+`/file"`) || !strings.Contains(page, "下载 PDF") {
		t.Fatalf("share page: %d, no PDF link:\n%.3000s", st, page)
	}
	st, body, hdr := anon.get("/s/" + token + "/file")
	if st != 200 || hdr.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(body, "%PDF-") {
		t.Fatalf("share PDF: %d %s", st, hdr.Get("Content-Type"))
	}
	text := pdfText(t, body)
	for _, want := range []string{fh.org.Legal, "仅用于办理银行开户", certificates.MaskName(certificates.Organisation, fh.org.Name), fh.mine.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("the shared PDF lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{fh.org.Name, fh.org.Address, capital, "注册资本", "住所", fh.org.USCC} {
		if strings.Contains(text, strings.Join(strings.Fields(not), "")) {
			t.Errorf("the shared PDF shows %q, which the share does not grant:\n%s", not, text)
		}
	}
	// The download was a view, like the page.
	shares, err := fh.Shares.List(ctx, holder)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shares {
		if sh.Purpose == "办理银行开户" && sh.Views != 2 {
			t.Fatalf("page + PDF counted %d views, want 2", sh.Views)
		}
	}

	// No purpose: 仅供查验; the name shown when the holder chose to.
	open := fh.share(t, &exchange.ShareRequest{Fields: []string{"address"}, ShowName: true})
	st, body, _ = anon.get("/s/" + open + "/file")
	if st != 200 {
		t.Fatalf("share PDF without purpose: %d", st)
	}
	if text := pdfText(t, body); !strings.Contains(text, "仅供查验") || !strings.Contains(text, fh.org.Name) || !strings.Contains(text, fh.org.Address) || strings.Contains(text, fh.org.Legal) {
		t.Fatalf("share PDF without purpose, name shown:\n%s", text)
	}

	// Used up by a download: the next one is not valid, and the page too.
	one := 1
	once := fh.share(t, &exchange.ShareRequest{Fields: []string{"address"}, MaxViews: &one})
	if st, _, _ := anon.get("/s/" + once + "/file"); st != 200 {
		t.Fatalf("first download of a one-view share: %d", st)
	}
	notValid := func(name, token string) {
		t.Helper()
		st, body, hdr := anon.get("/s/" + token + "/file")
		if st != 404 || strings.HasPrefix(body, "%PDF") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(body, "分享链接无效或已失效") {
			t.Fatalf("%s share: %d %s", name, st, hdr.Get("Content-Type"))
		}
	}
	notValid("used-up", once)

	revoked := fh.share(t, &exchange.ShareRequest{Fields: []string{"address"}})
	list, _ := fh.Shares.List(ctx, holder)
	for _, sh := range list {
		if sh.Fields[0] == "address" && sh.MaxViews == nil && !sh.ShowName {
			if err := fh.Shares.Revoke(ctx, holder, sh.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	notValid("revoked", revoked)

	// A revoked certificate behind a live share: no fresh signed file.
	if _, err := fh.Certs.Lifecycle(ctx, certificates.Scope{}, fh.mine.ID, certificates.Revoke, "测试撤销"); err != nil {
		t.Fatal(err)
	}
	if st, body, _ := anon.get("/s/" + token + "/file"); st != 409 || strings.HasPrefix(body, "%PDF") || !strings.Contains(body, "这张证照当前无效") {
		t.Fatalf("share of a revoked certificate: %d", st)
	}
	if _, page, _ := anon.get("/s/" + token); strings.Contains(page, "share-pdf") {
		t.Fatal("the share page of a revoked certificate offers a PDF")
	}

	fh.Clock.Advance(11 * time.Minute)
	notValid("expired", expiring)
}
