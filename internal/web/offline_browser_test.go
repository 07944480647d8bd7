package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/internal/web"
)

// shiftClock makes every page opened from now on see the clock d ahead
// (Date and Date.now), replacing the shift installed as previous.
func shiftClock(t *testing.T, ctx context.Context, d time.Duration, previous page.ScriptIdentifier) page.ScriptIdentifier {
	t.Helper()
	if previous != "" {
		if _, err := chromedp.Call(ctx, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: previous}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(`(() => {
		const shift = %d, RealDate = Date, realNow = Date.now.bind(Date);
		class Later extends RealDate { constructor(...a) { if (a.length === 0) { super(realNow() + shift); } else { super(...a); } } static now() { return realNow() + shift; } }
		globalThis.Date = Later;
	})()`, d.Milliseconds())})
	if err != nil {
		t.Fatal(err)
	}
	return res.Identifier
}

// needDecoder fails a test that reads QR images in the page when the hub
// was built without the vendored decoder, saying how to get it.
func needDecoder(t testing.TB) {
	if !web.HasDecoder() {
		t.Fatal("the page's QR decoder is not vendored: run `go generate ./internal/web/` (npm jsqr, see internal/web/jsqrgen)")
	}
}

// compactCode fetches a certificate's compact QR from the hub's endpoint
// (GET /api/v1/certificates/{id}/qr?form=compact) as an administrator:
// format "text" or "png".
func compactCode(t testing.TB, h *hubtest.Hub, id, format string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", h.Srv.URL+"/api/v1/certificates/"+id+"/qr?form=compact&format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+h.Admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("compact QR of %s: %d %s %v", id, resp.StatusCode, b, err)
	}
	return b
}

// strangerCode is the compact QR of c sealed by a key no trust list names,
// with c's real status reference.
func strangerCode(t testing.TB, h *hubtest.Hub, c *certificates.Certificate) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	thumb := make([]byte, 32)
	_, _ = crand.Read(thumb)
	from, _ := compactqr.ParseDate(c.ValidFrom.String())
	in := compactqr.Input{Issuer: h.Srv.URL, Now: h.Clock.Now(), Licence: compactqr.Licence{ID: c.ID, TypeCode: c.Type, IssuerUSCC: c.Authority,
		Holder: certificates.MaskName(c.Holder.Kind, c.Holder.Name), ValidFrom: from}}
	if c.Status != nil {
		in.Status = &compactqr.StatusRef{Idx: uint64(c.Status.Index), URI: statuslist.TSLURL(h.Srv.URL, c.Status.List)}
	}
	text, err := compactqr.Encode(key, thumb, in)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// requestLog records what the page asks for over the network, as DevTools
// sees it: each request, and whether the service worker answered it.
type requestLog struct {
	mu      sync.Mutex
	on      bool
	urls    map[network.RequestID]string
	fromSW  map[network.RequestID]bool
	failed  map[network.RequestID]string
	ordered []network.RequestID
}

func (l *requestLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if strings.HasPrefix(e.Request.URL, "data:") {
			return
		}
		if _, seen := l.urls[e.RequestID]; !seen {
			l.ordered = append(l.ordered, e.RequestID)
		}
		l.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		if e.Response.FromServiceWorker {
			l.fromSW[e.RequestID] = true
		}
	case *network.EventLoadingFailed:
		l.failed[e.RequestID] = e.ErrorText
	}
}

func (l *requestLog) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.urls, l.fromSW, l.failed, l.ordered = true, map[network.RequestID]string{}, map[network.RequestID]bool{}, map[network.RequestID]string{}, nil
}

// report lists every request, and those the service worker did not answer.
func (l *requestLog) report() (all, notFromSW []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range l.ordered {
		all = append(all, l.urls[id])
		if !l.fromSW[id] || l.failed[id] != "" {
			notFromSW = append(notFromSW, l.urls[id]+" "+l.failed[id])
		}
	}
	return all, notFromSW
}

// scanImage uploads a QR image to the offline card and waits for the verdict.
func scanImage(t *testing.T, ctx context.Context, file, want string) string {
	t.Helper()
	run(t, ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById('offline-verdict').dataset.reason = ''`),
		chromedp.SetUploadFiles(chromedp.CSS(`#qr-image`), []string{file}),
	)
	testenv.WaitJS(t, ctx, "verdict "+want, `document.getElementById('offline-verdict').dataset.reason !== ''`)
	got := attr(t, ctx, `#offline-verdict`, "data-reason")
	if got != want {
		t.Fatalf("%s: verdict %q (%s), want %q", filepath.Base(file), got, text(t, ctx, `#offline-result`), want)
	}
	return text(t, ctx, `#offline-verdict`)
}

// TestBrowserOfflineVerify: the clerk opens /verify online once; the service
// worker takes the page and the page keeps the signed lists; then, with the
// network off, the page still opens and verifies compact QR images of a
// valid, a revoked, a suspended licence and one sealed by an unknown key;
// with the clock past the lists' expiry it shows the stale banner. No
// request reaches the network while offline.
func TestBrowserOfflineVerify(t *testing.T) {
	needDecoder(t)
	h, _ := demoHub(t)
	bg := context.Background()
	var cut atomic.Bool
	var leakMu sync.Mutex
	var leaked []string
	inner := h.Srv.Config.Handler
	h.Srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cut.Load() {
			leakMu.Lock()
			leaked = append(leaked, r.Method+" "+r.URL.Path+" (Sec-Fetch-Mode "+r.Header.Get("Sec-Fetch-Mode")+")")
			leakMu.Unlock()
		}
		inner.ServeHTTP(w, r)
	})

	// Three food permits of one company, with their compact QR codes from
	// the hub: one stays valid, one is revoked and one suspended before the
	// page ever sees the lists.
	gen := demo.NewGenerator(13, h.Certs.Today())
	org := demo.NewOrg(rand.New(rand.NewPCG(13, 13)), 4711)
	dir := t.TempDir()
	issue := func(name string) (*certificates.Certificate, string, string) {
		res, err := h.Certs.Issue(bg, certificates.Scope{}, gen.FoodPermit(org, false), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Certificate.Status == nil {
			t.Fatal("a new certificate has no status list entry")
		}
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, compactCode(t, h, res.Certificate.ID, "png"), 0o644); err != nil {
			t.Fatal(err)
		}
		return res.Certificate, string(compactCode(t, h, res.Certificate.ID, "text")), p
	}
	valid, validText, validPNG := issue("valid")
	revoked, _, revokedPNG := issue("revoked")
	suspended, _, suspendedPNG := issue("suspended")
	if _, err := h.Certs.Lifecycle(bg, certificates.Scope{}, revoked.ID, certificates.Revoke, "以欺骗手段取得"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Certs.Lifecycle(bg, certificates.Scope{}, suspended.ID, certificates.Suspend, "停业整顿"); err != nil {
		t.Fatal(err)
	}
	png, err := qr.AlphanumericPNG(strangerCode(t, h, valid), 4)
	if err != nil {
		t.Fatal(err)
	}
	unknownPNG := filepath.Join(dir, "unknown-key.png")
	if err := os.WriteFile(unknownPNG, png, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := testenv.Browser(t, "")
	reqs := &requestLog{}
	if err := chromedp.Listen(ctx, reqs.listen); err != nil {
		t.Fatal(err)
	}
	clerkSignIn(t, ctx, h.Srv.URL)
	// Online: the service worker installs and takes the page, the page keeps
	// the trust list and the status list.
	testenv.WaitJS(t, ctx, "the service worker to control the page", `!!navigator.serviceWorker.controller`)
	testenv.WaitJS(t, ctx, "the lists to be kept", `document.getElementById('lists-state').dataset.ready === 'true'`)
	testenv.WaitJS(t, ctx, "the page to be kept", `caches.match('/verify').then(r => !!r)`)
	testenv.Screenshot(t, ctx, "40-offline-verify-online")
	// Chromium finds nothing that keeps the page from being installed.
	inst, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inst.InstallabilityErrors {
		t.Errorf("not installable: %s %v", e.ErrorID, e.ErrorArguments)
	}

	// Offline.
	testenv.Offline(t, ctx, true)
	cut.Store(true)
	t.Logf("offline at %s", time.Now().Format("05.000"))
	reqs.start()
	if on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.onLine`)); on {
		t.Fatal("navigator.onLine is still true")
	}
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#qr-image`)))
	if on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.onLine`)); on {
		t.Fatal("navigator.onLine is true again after the navigation")
	}
	testenv.WaitJS(t, ctx, "the kept lists offline", `document.getElementById('lists-state').dataset.ready === 'true'`)
	loads, notFromSW := reqs.report()
	if len(loads) == 0 || len(notFromSW) > 0 {
		t.Fatalf("offline page load: requests %v; not answered by the service worker: %v", loads, notFromSW)
	}

	reqs.start()
	verdict := scanImage(t, ctx, validPNG, "valid")
	testenv.Screenshot(t, ctx, "41-offline-valid")
	if !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") {
		t.Fatalf("valid: %q", verdict)
	}
	if details := text(t, ctx, `#offline-details`); !strings.Contains(details, valid.ID) || !strings.Contains(details, "在本机完成") {
		t.Fatalf("valid details: %q", details)
	}
	verdict = scanImage(t, ctx, revokedPNG, "revoked")
	testenv.Screenshot(t, ctx, "42-offline-revoked")
	if !strings.Contains(verdict, "已撤销") || !strings.Contains(verdict, "revoked") {
		t.Fatalf("revoked: %q", verdict)
	}
	scanImage(t, ctx, suspendedPNG, "suspended")
	verdict = scanImage(t, ctx, unknownPNG, "unknown_key")
	testenv.Screenshot(t, ctx, "43-offline-unknown-key")
	if !strings.Contains(verdict, "未知的签章密钥") {
		t.Fatalf("unknown key: %q", verdict)
	}
	// A scanner gun types the text; a damaged one is refused with its reason
	// (a lower-case letter is outside the Base45 alphabet).
	run(t, ctx, chromedp.SetValue(chromedp.CSS(`#qr-text`), validText[:20]+"a"+validText[21:]), chromedp.Click(chromedp.CSS(`#qr-text-check`)))
	testenv.WaitJS(t, ctx, "typed text", `document.getElementById('offline-verdict').dataset.reason === 'bad_base45'`)
	if all, _ := reqs.report(); len(all) > 0 {
		t.Fatalf("verifying offline made requests: %v", all)
	}

	// Two hours on (the page's clock shifted, the page opened again, still
	// offline): the status list is past its ttl, so the banner asks for a
	// refresh, and verdicts still stand.
	later := shiftClock(t, ctx, 2*time.Hour, "")
	reqs.start()
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#qr-image`)))
	testenv.WaitJS(t, ctx, "the refresh banner", `(() => { const b = document.getElementById('stale-banner'); return !b.hidden && b.dataset.state === 'old'; })()`)
	scanImage(t, ctx, validPNG, "valid")
	testenv.Screenshot(t, ctx, "44-offline-lists-old")

	// A day later: past the lists' expiry (the trust list and the status
	// lists live 24 h). The page says so and trusts nothing.
	shiftClock(t, ctx, 25*time.Hour, later)
	reqs.start()
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#qr-image`)))
	testenv.WaitJS(t, ctx, "the stale banner", `(() => { const b = document.getElementById('stale-banner'); return !b.hidden && b.dataset.state === 'expired'; })()`)
	banner := text(t, ctx, `#stale-banner`)
	if !strings.Contains(banner, "已过期") || !strings.Contains(banner, "EXPIRED") {
		t.Fatalf("stale banner: %q", banner)
	}
	scanImage(t, ctx, validPNG, "stale_lists")
	testenv.Screenshot(t, ctx, "45-offline-lists-expired")
	if _, notFromSW := reqs.report(); len(notFromSW) > 0 {
		t.Fatalf("offline, later: requests not answered by the service worker: %v", notFromSW)
	}
	leakMu.Lock()
	defer leakMu.Unlock()
	if len(leaked) > 0 {
		t.Fatalf("requests reached the hub while offline: %v", leaked)
	}
}

// TestBrowserOfflineWithoutDecoder: a hub built without the vendored QR
// decoder still verifies the text a scanner gun types, and says that images
// cannot be read.
func TestBrowserOfflineWithoutDecoder(t *testing.T) {
	web.WithoutDecoder(t)
	h, _ := demoHub(t)
	bg := context.Background()
	res, err := h.Certs.Issue(bg, certificates.Scope{}, demo.NewGenerator(14, h.Certs.Today()).FoodPermit(demo.NewOrg(rand.New(rand.NewPCG(14, 14)), 4712), false), nil)
	if err != nil {
		t.Fatal(err)
	}
	code := string(compactCode(t, h, res.Certificate.ID, "text"))
	if r, err := http.Get(h.Srv.URL + "/verify/jsqr.js"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Fatalf("decoder without the vendored file: %v %v", r, err)
	}
	ctx := testenv.Browser(t, "")
	clerkSignIn(t, ctx, h.Srv.URL)
	testenv.WaitJS(t, ctx, "the service worker to control the page", `!!navigator.serviceWorker.controller`)
	testenv.WaitJS(t, ctx, "the trust list to be kept", `!!CertHubOffline.lists().trustList`)
	if msg := text(t, ctx, `#decoder-missing`); !strings.Contains(msg, "无法读取图片") {
		t.Fatalf("decoder missing note: %q", msg)
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('qr-image').disabled`)); !disabled {
		t.Fatal("the image input is enabled without a decoder")
	}
	// The scanner gun types the text and ends it with Enter.
	run(t, ctx, chromedp.SendKeys(chromedp.CSS(`#qr-text`), code+"\r"))
	testenv.WaitJS(t, ctx, "the typed code's verdict", `document.getElementById('offline-verdict').dataset.reason === 'valid'`)
	testenv.Screenshot(t, ctx, "46-offline-no-decoder-typed")

	// In English, the verdict is English first, Chinese beside it.
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/verify?lang=en"), chromedp.WaitVisible(chromedp.CSS(`#qr-text`)))
	testenv.WaitJS(t, ctx, "the trust list to be kept", `!!CertHubOffline.lists().trustList`)
	run(t, ctx, chromedp.SendKeys(chromedp.CSS(`#qr-text`), code+"\r"))
	testenv.WaitJS(t, ctx, "the typed code's verdict", `document.getElementById('offline-verdict').dataset.reason === 'valid'`)
	if v := text(t, ctx, `#offline-verdict`); !strings.HasPrefix(strings.TrimSpace(v), "VALID") || !strings.Contains(v, "签章有效") {
		t.Fatalf("English verdict: %q", v)
	}
	if msg := text(t, ctx, `#decoder-missing`); !strings.Contains(msg, "images cannot be read") {
		t.Fatalf("English decoder note: %q", msg)
	}
}

// BenchmarkBrowserOfflineVerify measures, in Chromium, what a scan costs the
// offline page once the lists are kept: jsQR reading the QR image, then
// decode + verify of the text (Base45, ZLIB, CBOR, ES256 by WebCrypto,
// trust list and status list lookups), each timed with performance.now()
// over 200 scans; reported as medians and 95th percentiles in ms.
func BenchmarkBrowserOfflineVerify(b *testing.B) {
	needDecoder(b)
	h, _ := demoHub(b)
	res, err := h.Certs.Issue(context.Background(), certificates.Scope{}, demo.NewGenerator(15, h.Certs.Today()).FoodPermit(demo.NewOrg(rand.New(rand.NewPCG(15, 15)), 4713), false), nil)
	if err != nil {
		b.Fatal(err)
	}
	code := string(compactCode(b, h, res.Certificate.ID, "text"))
	png, err := qr.AlphanumericPNG(code, 4) // as the endpoint draws it (each request makes a new code)
	if err != nil {
		b.Fatal(err)
	}
	ctx := testenv.Browser(b, "")
	clerkSignIn(b, ctx, h.Srv.URL)
	testenv.WaitJS(b, ctx, "the lists to be kept", `document.getElementById('lists-state').dataset.ready === 'true'`)
	type timing struct {
		Median, P95, ImageMedian, ImageP95 float64
		Chars                              int
	}
	var last timing
	b.ResetTimer()
	for b.Loop() {
		last, err = chromedp.Run(ctx, chromedp.Evaluate[timing](`(async (text, png, n) => {
			const pct = (a, p) => { a.sort((x, y) => x - y); return a[Math.min(a.length - 1, Math.floor(a.length * p))]; };
			const lists = CertHubOffline.lists(), verify = [], image = [];
			const bytes = Uint8Array.from(atob(png), c => c.charCodeAt(0));
			for (let i = 0; i < n; i++) {
				let t0 = performance.now();
				const bmp = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
				const c = new OffscreenCanvas(bmp.width, bmp.height), g = c.getContext('2d', {willReadFrequently: true});
				g.drawImage(bmp, 0, 0);
				const found = jsQR(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
				image.push(performance.now() - t0);
				if (!found || found.data !== text) { throw new Error('jsQR read ' + (found && found.data)); }
				t0 = performance.now();
				const r = await CertHubQR.verify(text, lists, Math.floor(Date.now() / 1000));
				verify.push(performance.now() - t0);
				if (!r.valid) { throw new Error(r.reason + ' ' + r.detail); }
			}
			return {Median: pct(verify, 0.5), P95: pct(verify, 0.95), ImageMedian: pct(image, 0.5), ImageP95: pct(image, 0.95), Chars: text.length};
		})(`+jsonString(code)+`, `+jsonString(base64.StdEncoding.EncodeToString(png))+`, 200)`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(last.Median, "verify-ms-median")
	b.ReportMetric(last.P95, "verify-ms-p95")
	b.ReportMetric(last.ImageMedian, "jsqr-ms-median")
	b.ReportMetric(last.ImageP95, "jsqr-ms-p95")
	b.ReportMetric(float64(last.Chars), "chars")
}

// TestBrowserOfflineCamera: offline, the camera (Chromium's fake camera
// playing a compact QR) is read in the page by the vendored decoder and the
// code verified there.
func TestBrowserOfflineCamera(t *testing.T) {
	needDecoder(t)
	h, _ := demoHub(t)
	res, err := h.Certs.Issue(context.Background(), certificates.Scope{}, demo.NewGenerator(17, h.Certs.Today()).FoodPermit(demo.NewOrg(rand.New(rand.NewPCG(17, 17)), 4715), false), nil)
	if err != nil {
		t.Fatal(err)
	}
	video := filepath.Join(t.TempDir(), "camera.y4m")
	writeY4M(t, video, compactCode(t, h, res.Certificate.ID, "png"))
	ctx := testenv.Browser(t, video)
	clerkSignIn(t, ctx, h.Srv.URL)
	testenv.WaitJS(t, ctx, "the service worker to control the page", `!!navigator.serviceWorker.controller`)
	testenv.WaitJS(t, ctx, "the lists to be kept", `document.getElementById('lists-state').dataset.ready === 'true'`)
	testenv.Offline(t, ctx, true)
	run(t, ctx, chromedp.Click(chromedp.CSS(`#start-camera`)))
	testenv.WaitJS(t, ctx, "the camera's verdict", `document.getElementById('offline-verdict').dataset.reason === 'valid'`)
	testenv.Screenshot(t, ctx, "47-offline-camera")
	if id := text(t, ctx, `#offline-details`); !strings.Contains(id, res.Certificate.ID) {
		t.Fatalf("camera result: %q", id)
	}
}
