package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"github.com/certhub/certhub/internal/testenv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/statuslist"
)

// TestBrowserOfflineListsBadInput: the page's verifier, handed the hub's
// real lists and codes the hub's seal key signed, names the precise reason
// for what only a list holder can judge: a trust list or status list that
// does not verify or is of the other kind, a status index past the list, a
// list it does not hold, lists past their exp, another hub's code.
func TestBrowserOfflineListsBadInput(t *testing.T) {
	h, _ := demoHub(t)
	bg := context.Background()
	get := func(path string) string {
		resp, err := http.Get(h.Srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return strings.TrimSpace(string(b))
	}
	res, err := h.Certs.Issue(bg, certificates.Scope{}, demo.NewGenerator(16, h.Certs.Today()).FoodPermit(demo.NewOrg(rand.New(rand.NewPCG(16, 16)), 4714), false), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Certificate
	good := string(compactCode(t, h, c.ID, "text"))
	trustList, tsl := get("/.well-known/certhub-trust-list"), get(statuslist.TSLPath(c.Status.List))
	sign := func(iss string, idx uint64, list int) string {
		from, _ := compactqr.ParseDate(c.ValidFrom.String())
		text, _, err := h.API.Keys.SignCompactQR(bg, c.Authority, compactqr.Input{Issuer: iss, Now: h.Clock.Now(),
			Licence: compactqr.Licence{ID: c.ID, TypeCode: c.Type, IssuerUSCC: c.Authority, ValidFrom: from},
			Status:  &compactqr.StatusRef{Idx: idx, URI: statuslist.TSLURL(h.Srv.URL, list)}})
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	parts := strings.Split(tsl, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(payload, &claims)
	tamper := func(jws string) string { // flip one bit of the signature
		b := []byte(jws)
		i := len(b) - 3
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	in := map[string]any{
		"hub": json.RawMessage(h.Pages.HubKey.PublicJWK()), "trustList": trustList, "tsl": tsl, "path": statuslist.TSLPath(c.Status.List),
		"tamperedTrustList": tamper(trustList), "tamperedTSL": tamper(tsl),
		"good": good, "outOfRange": sign(h.Srv.URL, statuslist.MinSize, c.Status.List), "otherList": sign(h.Srv.URL, 5, c.Status.List+8),
		"otherHub": sign("https://zwfw.example.gov.cn", 5, c.Status.List), "listExp": claims.Exp,
	}
	arg, _ := json.Marshal(in)
	ctx := testenv.Browser(t, "")
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify/login"), chromedp.WaitVisible(chromedp.CSS(`body`)))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(async (a) => {
		await new Promise((ok, bad) => { const s = document.createElement('script'); s.src = '/static/cqr.js'; s.onload = ok; s.onerror = bad; document.head.appendChild(s); });
		const Q = self.CertHubQR, hub = await Q.importJWK(a.hub), out = {};
		const reason = async (p) => { try { await p; return 'ok'; } catch (e) { return e.reason || 'exception: ' + e; } };
		out.tamperedTrustList = await reason(Q.loadTrustList(a.tamperedTrustList, hub));
		out.tslAsTrustList = await reason(Q.loadTrustList(a.tsl, hub));
		out.tamperedTSL = await reason(Q.loadStatusList(a.tamperedTSL, hub));
		out.trustListAsTSL = await reason(Q.loadStatusList(a.trustList, hub));
		const lists = {trustList: await Q.loadTrustList(a.trustList, hub), statusLists: {}};
		lists.statusLists[a.path] = await Q.loadStatusList(a.tsl, hub);
		const now = Math.floor(Date.now() / 1000);
		const v = async (text, at) => { const r = await Q.verify(text, lists, at || now); return r.valid ? 'valid' + (r.warning ? '+' + r.warning : '') : r.reason; };
		out.good = await v(a.good);
		out.outOfRange = await v(a.outOfRange);
		out.otherList = await v(a.otherList);
		out.otherHub = await v(a.otherHub);
		out.listExpired = await v(a.good, a.listExp);
		out.trustListExpired = await v(a.good, lists.trustList.exp);
		out.noTrustList = (await Q.verify(a.good, {trustList: null, statusLists: {}}, now)).reason;
		return out;
	})(`+string(arg)+`)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"tamperedTrustList": "bad_trust_list", "tslAsTrustList": "bad_trust_list",
		"tamperedTSL": "bad_status_list", "trustListAsTSL": "bad_status_list",
		"good": "valid", "outOfRange": "bad_status_index", "otherList": "status_unavailable", "otherHub": "issuer_mismatch",
		"listExpired": "stale_lists", "trustListExpired": "stale_lists", "noTrustList": "bad_trust_list",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: the page says %q, want %q", k, got[k], w)
		}
	}
}
