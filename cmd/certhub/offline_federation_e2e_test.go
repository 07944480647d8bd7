package main_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/internal/testenv"
)

// TestFederationOfflineClerk: the province's clerk page, opened online
// once, keeps the other hubs' trust lists (signed by the province, each as
// its hub signed it) and the county's status list (passed on by the
// province); then, with the network off, it verifies the county's compact
// QR codes: one valid, naming the county's library and labelled as the
// county's type names its fields, one revoked.
func TestFederationOfflineClerk(t *testing.T) {
	t.Parallel()
	f := newFederation(t, "--federation-push-every", "0")
	prov, county := f.prov, f.county
	issuer, typ := countySetup(t, county.p)
	keep := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301025001"))["id"].(string)
	gone := county.p.must(201, "POST", "/api/v1/certificates", issuer, countyPermit(typ, "JY3301025002"))["id"].(string)
	code := func(id string) string {
		r := county.p.do("GET", "/api/v1/certificates/"+id+"/qr?form=compact&format=text", admin, nil)
		if r.status != 200 || !strings.HasPrefix(string(r.body), "CH1:") {
			t.Fatalf("the compact QR of %s: %d %.200s", id, r.status, r.body)
		}
		return strings.TrimSpace(string(r.body))
	}
	keepCode, goneCode := code(keep), code(gone)
	county.p.must(200, "POST", "/api/v1/certificates/"+gone+"/revoke", issuer, map[string]string{"reason": "吊销"})

	// The province passes on the county's trust list and status list.
	// Its licence type catalogue too (fetched on the province's own pull,
	// which may have run before the county defined the type): without it
	// the offline page cannot label the fields.
	waitFor(t, 60*time.Second, "the province's federation trust list holds the county's, with its licence types", func() (bool, string) {
		r := prov.p.do("GET", "/.well-known/certhub-federation-trust-list", "", nil)
		if r.status != 200 {
			return false, string(r.body)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(r.body), ".")[1])
		var p struct {
			Hubs []struct {
				ID        string `json:"hub_id"`
				TrustList string `json:"trust_list"`
				Types     struct {
					Types map[string]json.RawMessage `json:"types"`
				} `json:"licence_types"`
			}
		}
		_ = json.Unmarshal(raw, &p)
		for _, h := range p.Hubs {
			if h.ID == "330102" && strings.Count(h.TrustList, ".") == 2 && h.Types.Types[typ] != nil {
				return true, ""
			}
		}
		return false, string(raw)
	})
	if r := prov.p.do("GET", "/status/federation/330102/tsl/1", "", nil); r.status != 200 || r.header.Get("Content-Type") != "application/statuslist+jwt" {
		t.Fatalf("the county's status list through the province: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
	}
	for _, path := range []string{"/status/federation/330102/tsl/99", "/status/federation/990000/tsl/1", "/status/federation/330000/tsl/1"} {
		if r := prov.p.do("GET", path, "", nil); r.status != 404 {
			t.Fatalf("GET %s: %d %.200s, want 404", path, r.status, r.body)
		}
	}

	ctx := testenv.Browser(t, "")
	clerkToken := prov.p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "窗口三", "role": "clerk"})["token"].(string)
	if err := chromedp.Do(ctx, chromedp.Navigate(prov.p.base+"/verify/login"), chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), clerkToken), chromedp.Submit(chromedp.CSS(`#token`)), chromedp.WaitVisible(chromedp.CSS(`#qr-text`))); err != nil {
		t.Fatal(err)
	}
	testenv.WaitJS(t, ctx, "the service worker to control the page", `!!navigator.serviceWorker.controller`)
	testenv.WaitJS(t, ctx, "the federation's lists to be kept", `(() => { const d = document.getElementById('lists-state').dataset;
		return d.ready === 'true' && Number(d.hubs) >= 2 && Number(d.hubStatusLists) >= 1; })()`)
	testenv.Screenshot(t, ctx, "51-federation-offline-online")

	testenv.Offline(t, ctx, true)
	if err := chromedp.Do(ctx, chromedp.Navigate(prov.p.base+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#qr-text`))); err != nil {
		t.Fatal(err)
	}
	testenv.WaitJS(t, ctx, "the kept lists offline", `(() => { const d = document.getElementById('lists-state').dataset;
		return d.ready === 'true' && Number(d.hubs) >= 2 && Number(d.hubStatusLists) >= 1; })()`)
	check := func(text, want string) string {
		t.Helper()
		js := `(() => { document.getElementById('offline-verdict').dataset.reason = ''; document.getElementById('qr-text').value = ` +
			jsString(text) + `; document.getElementById('qr-text-check').click(); return true; })()`
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatal(err)
		}
		testenv.WaitJS(t, ctx, "a verdict", `document.getElementById('offline-verdict').dataset.reason !== ''`)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('offline-verdict').dataset.reason`))
		if err != nil {
			t.Fatal(err)
		}
		details, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#offline-result`)))
		if got != want {
			testenv.Screenshot(t, ctx, "52-federation-offline-failed")
			t.Fatalf("offline verdict %q, want %q: %s", got, want, details)
		}
		return details
	}
	if d := check(keepCode, "valid"); !strings.Contains(d, "上城区电子证照库") || !strings.Contains(d, keep) || !strings.Contains(d, "在本机完成") ||
		!strings.Contains(d, "许可证编号") {
		t.Fatalf("the county's valid licence offline: %s", d)
	}
	testenv.Screenshot(t, ctx, "52-federation-offline-valid")
	check(goneCode, "revoked")
	testenv.Screenshot(t, ctx, "53-federation-offline-revoked")
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
