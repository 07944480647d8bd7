package web_test

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/web"
)

// makeAnnotated posts the wallet's 加注件 form and returns the new copy's
// id from the redirect.
func makeAnnotated(t *testing.T, c *client, certID, purpose, expires string) string {
	t.Helper()
	st, body, hdr := c.post("/wallet/certificates/"+certID+"/annotated", url.Values{"purpose": {purpose}, "expires_at": {expires}})
	loc := hdr.Get("Location")
	if st != 303 || !strings.Contains(loc, "annotated=ann_") {
		t.Fatalf("make annotated copy: %d %s\n%.2000s", st, loc, body)
	}
	u, _ := url.Parse(loc)
	return u.Query().Get("annotated")
}

// TestWalletAnnotated: the wallet makes an annotated copy (加注件) of a
// valid certificate and lists it; its PDF carries the purpose as a
// watermark and its OFD is a package; a bad purpose or expiry shows the
// wallet again naming the field, storing nothing; another holder gets 404;
// once revoked the copy's files are 410 and the wallet says so.
func TestWalletAnnotated(t *testing.T) {
	fh := newFileHub(t)
	fh.Pages.Demo = append(fh.Pages.Demo, web.DemoHolder{Kind: certificates.Organisation, ID: fh.other.USCC, Name: fh.other.Name})
	ctx := context.Background()
	me := exchange.Holder{Kind: certificates.Organisation, ID: fh.org.USCC}
	today := fh.Certs.Today()
	c := fh.holder(t)

	st, body, _ := c.get("/wallet")
	if st != 200 || !strings.Contains(body, `action="/wallet/certificates/`+fh.mine.ID+`/annotated"`) ||
		!strings.Contains(body, `value="`+today.AddDays(30).String()+`"`) || !strings.Contains(body, `max="`+today.AddDays(90).String()+`"`) {
		t.Fatalf("wallet: %d, no 加注件 form with a 30-day default and a 90-day limit:\n%.4000s", st, body)
	}

	for _, tc := range []struct {
		name, lang, purpose, expires string
		field, want                  string
	}{
		{"empty purpose", "", "  ", today.AddDays(30).String(), "purpose", "用途：请填写一项用途"},
		{"expiry 91 days", "", "办理银行开户", today.AddDays(91).String(), "expires_at", "有效期至：请选择今天起 90 天以内的日期"},
		{"expiry yesterday", "", "办理银行开户", today.AddDays(-1).String(), "expires_at", "有效期至"},
		{"no expiry", "", "办理银行开户", "", "expires_at", "有效期至"},
		{"English", "?lang=en", "", today.AddDays(91).String(), "purpose", "Valid until：choose a date from today to 90 days ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := c.post("/wallet/certificates/"+fh.mine.ID+"/annotated"+tc.lang, url.Values{"purpose": {tc.purpose}, "expires_at": {tc.expires}})
			if st != 400 || !strings.Contains(body, `data-field="`+tc.field+`"`) || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="annotate-problems"`) {
				t.Fatalf("%d, want 400 naming %s (%q):\n%.6000s", st, tc.field, tc.want, body)
			}
		})
	}
	c.get("/wallet?lang=zh") // the English case left its cookie
	if list, err := fh.Pages.Annotations.List(ctx, me); err != nil || len(list) != 0 {
		t.Fatalf("refused requests stored %d copies (%v)", len(list), err)
	}

	aid := makeAnnotated(t, c, fh.mine.ID, "办理银行开户", today.AddDays(30).String())
	st, body, _ = c.get("/wallet")
	if st != 200 || !strings.Contains(body, "我的加注件") || !strings.Contains(body, `id="annotated-`+aid+`"`) ||
		!strings.Contains(body, "办理银行开户") || !strings.Contains(body, `data-status="valid"`) ||
		!strings.Contains(body, `href="/wallet/annotated/`+aid+`/file?format=pdf"`) {
		t.Fatalf("wallet does not list the copy:\n%.6000s", body)
	}

	file := "/wallet/annotated/" + aid + "/file?format="
	st, pdf, hdr := c.get(file + "pdf")
	if st != 200 || hdr.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("copy's PDF: %d %s %.100q", st, hdr.Get("Content-Type"), pdf)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, "仅用于办理银行开户") {
		t.Fatalf("the copy's PDF lacks the watermark:\n%s", text)
	}
	if st, ofd, hdr := c.get(file + "ofd"); st != 200 || hdr.Get("Content-Type") != "application/ofd" || !bytes.HasPrefix([]byte(ofd), []byte("PK\x03\x04")) {
		t.Fatalf("copy's OFD: %d %s", st, hdr.Get("Content-Type"))
	}

	// Another holder neither downloads nor revokes it.
	other := newClient(t, fh.Hub, false)
	if st, _, _ := other.post("/wallet/demo-login", url.Values{"holder": {"1"}}); st != 303 {
		t.Fatalf("demo sign-in of the other holder: %d", st)
	}
	if st, body, _ := other.get(file + "pdf"); st != 404 || strings.HasPrefix(body, "%PDF") {
		t.Fatalf("another holder's download: %d", st)
	}
	if st, _, _ := other.post("/wallet/annotated/"+aid+"/revoke", url.Values{}); st != 404 {
		t.Fatalf("another holder's revoke: %d", st)
	}
	if st, _, _ := other.post("/wallet/certificates/"+fh.mine.ID+"/annotated", url.Values{"purpose": {"冒用"}, "expires_at": {today.AddDays(5).String()}}); st != 404 {
		t.Fatalf("another holder annotating my certificate: %d", st)
	}
	// Without the CSRF token nothing is revoked.
	if st, _, _ := c.post("/wallet/annotated/"+aid+"/revoke", url.Values{"nocsrf": {"1"}}); st != 403 {
		t.Fatalf("revoke without CSRF: %d", st)
	}

	if st, _, hdr := c.post("/wallet/annotated/"+aid+"/revoke", url.Values{}); st != 303 || !strings.HasSuffix(hdr.Get("Location"), "#annotated") {
		t.Fatalf("revoke: %d %s", st, hdr.Get("Location"))
	}
	for _, f := range []string{"pdf", "ofd"} {
		if st, body, _ := c.get(file + f); st != 410 || !strings.Contains(body, "加注件已被撤销") || strings.HasPrefix(body, "%PDF") {
			t.Fatalf("revoked copy's %s: %d\n%.2000s", f, st, body)
		}
	}
	if _, body, _ := c.get("/wallet"); !strings.Contains(body, `data-status="revoked"`) || strings.Contains(body, `href="/wallet/annotated/`+aid) {
		t.Fatal("the wallet still offers the revoked copy")
	}

	// Making, downloading and revoking are in the holder's access history.
	entries, err := fh.Ledger.Store.HolderAudit(ctx, fh.mine.HolderIndex, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"annotate", "annotated_file", "annotated_revoke"} {
		if !slices.Contains(actions, want) {
			t.Fatalf("ledger actions %q lack %s", actions, want)
		}
	}
}

// TestWalletAnnotatedExpired: after its last day a copy is listed as
// expired, offers no files, and its file link is a 410 page saying it
// expired, in the page's language.
func TestWalletAnnotatedExpired(t *testing.T) {
	fh := newFileHub(t)
	aid := makeAnnotated(t, fh.holder(t), fh.mine.ID, "办理落户", fh.Certs.Today().AddDays(1).String())
	fh.Clock.Advance(72 * time.Hour)
	c := fh.holder(t) // a new session: the old one may have lapsed
	if st, body, _ := c.get("/wallet"); st != 200 || !strings.Contains(body, `data-status="expired"`) || !strings.Contains(body, "已过期") ||
		strings.Contains(body, `href="/wallet/annotated/`+aid) {
		t.Fatalf("wallet after expiry: %d\n%.6000s", st, body)
	}
	if st, body, _ := c.get("/wallet/annotated/" + aid + "/file?format=pdf"); st != 410 || !strings.Contains(body, "加注件已过期") {
		t.Fatalf("expired copy's PDF: %d\n%.2000s", st, body)
	}
	if st, body, _ := c.get("/wallet/annotated/" + aid + "/file?format=pdf&lang=en"); st != 410 || !strings.Contains(body, "the annotated copy has expired") {
		t.Fatalf("expired copy's PDF in English: %d\n%.2000s", st, body)
	}
}
