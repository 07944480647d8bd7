package main_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/internal/testenv"
)

// clerkSession signs a window clerk in to a hub's /verify page with a clerk
// token, and posts what a clerk would check.
type clerkSession struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClerk(t *testing.T, p *proc) *clerkSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &clerkSession{t: t, base: p.base, http: &http.Client{Jar: jar}}
	token := p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "窗口", "role": "clerk"})["token"].(string)
	if st, body := c.post("/verify/login", url.Values{"token": {token}}); st != 200 {
		t.Fatalf("clerk sign-in: %d %.300s", st, body)
	}
	return c
}

func (c *clerkSession) csrf() string {
	u, _ := url.Parse(c.base)
	for i := 0; i < 2; i++ {
		for _, k := range c.http.Jar.Cookies(u) {
			if k.Name == "certhub_csrf" {
				return k.Value
			}
		}
		resp, err := c.http.Get(c.base + "/verify/login")
		if err != nil {
			c.t.Fatal(err)
		}
		resp.Body.Close()
	}
	c.t.Fatal("no CSRF cookie")
	return ""
}

func (c *clerkSession) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	form.Set("csrf", c.csrf())
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFederationClerkPage: a window clerk at the province checks a
// licence the county issued, on the province's own /verify page: the
// page shows the county's verdict and names the county's library; after a
// revocation at the county it shows revoked; with the county down it says
// the county cannot be reached (aggregation is off here, so the province
// holds no copy).
func TestFederationClerkPage(t *testing.T) {
	t.Parallel()
	f := newFederation(t, "--federation-push-every", "0")
	prov, county := f.prov, f.county
	issuer, typ := countySetup(t, county.p)
	issued := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301024001"))
	doc, id := issued["document"].(string), issued["id"].(string)
	clerk := newClerk(t, prov.p)
	var body string
	waitFor(t, 60*time.Second, "the province's clerk page verifies the county's licence", func() (bool, string) {
		_, body = clerk.post("/verify/check", url.Values{"input": {doc}})
		return strings.Contains(body, `id="issuing-hub">上城区电子证照库`), body
	})
	// The document's fields under the county's labels (its type is not
	// the province's).
	if !strings.Contains(body, "有效") || !strings.Contains(body, "<dt>许可证编号</dt><dd>JY3301024001</dd>") || !strings.Contains(body, id) {
		t.Fatalf("the clerk page on the county's licence:\n%s", body)
	}
	// An identifier goes by its authority, which the directory lists once
	// the city has read the county's description and the province the
	// city's directory: a refresh or two after the licence's key.
	waitFor(t, 60*time.Second, "the province's clerk page verifies the county's identifier", func() (bool, string) {
		_, b := clerk.post("/verify/check", url.Values{"input": {id}})
		return strings.Contains(b, `id="issuing-hub">上城区电子证照库`), b
	})
	if _, b := clerk.post("/verify/check", url.Values{"input": {id}}); !strings.Contains(b, "有效") || strings.Contains(b, "JY3301024001") {
		t.Fatalf("the clerk page on the county's identifier (no fields):\n%s", b)
	}
	// The same in a real browser: the clerk signs in at the province,
	// pastes the county's document, and the page names the county's library.
	ctx := testenv.Browser(t, "")
	clerkToken := prov.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "窗口二", "role": "clerk"})["token"].(string)
	steps := []struct {
		name string
		do   chromedp.Action[chromedp.Void]
	}{
		{"open the sign-in page", chromedp.Navigate(prov.p.base + "/verify/login")},
		{"see the token field", chromedp.WaitVisible(chromedp.CSS(`#token`))},
		{"type the token", chromedp.SetValue(chromedp.CSS(`#token`), clerkToken)},
		// Submit, not a click at coordinates: the page's offline card fills
		// in as it loads and moves the buttons under a click.
		{"sign in", chromedp.Submit(chromedp.CSS(`#token`))},
		{"see the check page", chromedp.WaitVisible(chromedp.CSS(`#document`))},
		{"paste the document", chromedp.SetValue(chromedp.CSS(`#document`), doc)},
		{"check it", chromedp.Submit(chromedp.CSS(`#document`))},
		{"see the holding library", chromedp.WaitVisible(chromedp.CSS(`#issuing-hub`))},
	}
	for _, st := range steps {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := chromedp.Do(sctx, st.do)
		cancel()
		if err != nil {
			testenv.Screenshot(t, ctx, "50-federation-clerk-failed")
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("browser, %s: %v\npage: %.3000s", st.name, err, page)
		}
	}
	testenv.Screenshot(t, ctx, "50-federation-clerk-verifies-another-hubs-licence")
	verdict, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#verdict`)))
	if err != nil {
		t.Fatal(err)
	}
	libraryName, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#issuing-hub`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(verdict, "有效") || !strings.Contains(libraryName, "上城区电子证照库") {
		t.Fatalf("in the browser: verdict %q, library %q", verdict, libraryName)
	}

	county.p.must(200, "POST", "/api/v1/certificates/"+id+"/revoke", issuer, map[string]string{"reason": "吊销"})
	if _, b := clerk.post("/verify/check", url.Values{"input": {doc}}); !strings.Contains(b, "已撤销") {
		t.Fatalf("the clerk page after the county revoked:\n%s", b)
	}
	county.p.stop()
	if _, b := clerk.post("/verify/check", url.Values{"input": {doc}}); !strings.Contains(b, "持有该证照的证照库暂时无法访问") {
		t.Fatalf("the clerk page with the county down:\n%s", b)
	}
}
