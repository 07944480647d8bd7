package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/internal/web"
)

func run(t testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("browser: %v\npage: %.2000s", err, html)
	}
}

// waitImage waits until the image matching sel has loaded and decoded.
func waitImage(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const i = document.querySelector(%q); return !!i && i.complete && i.naturalWidth > 0; })()`, sel)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("waiting for image %s: %v", sel, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s did not load", sel)
		}
	}
}

// text reads the text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := reread(ctx, func() (string, error) { return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))) })
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

func attr(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	v, err := reread(ctx, func() (string, error) {
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		return a.Value, err
	})
	if err != nil {
		t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return v
}

// reread runs a read of the page again when the node it found was gone
// before it could be read: after a form submit (a navigation chromedp did
// not start) chromedp can find the selector in the document it tracked
// just before it learns of the new one. Reading again queries the new
// document; any other error is returned at once.
func reread[T any](ctx context.Context, read func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := read()
		if err == nil || i == 10 || !strings.Contains(err.Error(), "No node with given id") {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot is a picture of the element sel, read again as reread says.
func screenshot(ctx context.Context, sel string) ([]byte, error) {
	return reread(ctx, func() ([]byte, error) { return chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel))) })
}

// demoHub is a hub with the demo data set and the demo sign-in.
func demoHub(t testing.TB) (*hubtest.Hub, *demo.Seeded) {
	t.Helper()
	h := hubtest.New(t)
	seeded, err := demo.Seed(context.Background(), h.Certs, h.API.Items, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range seeded.Holders {
		h.Pages.Demo = append(h.Pages.Demo, web.DemoHolder{Kind: d.Kind, ID: d.ID, Name: d.Name})
	}
	return h, seeded
}

// TestBrowserHolderJourney: demo sign-in → wallet → share → the share page
// says valid → the certificate is revoked → the share page says revoked.
func TestBrowserHolderJourney(t *testing.T) {
	h, _ := demoHub(t)
	ctx := testenv.Browser(t, "")
	base := h.Srv.URL
	var url, verdict, holder string
	run(t, ctx,
		chromedp.Navigate(base+"/wallet"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.Click(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.WaitVisible(chromedp.CSS(`li.cert`)),
	)
	testenv.Screenshot(t, ctx, "01-wallet")
	run(t, ctx,
		chromedp.Click(chromedp.CSS(`li.cert details.share-form summary`)),
		chromedp.SetValue(chromedp.CSS(`li.cert details.share-form input[name="purpose"]`), "办理银行开户"),
		chromedp.Click(chromedp.CSS(`li.cert details.share-form button.create-share`)),
		chromedp.WaitVisible(chromedp.CSS(`li.share.created img.qr`)),
	)
	url = text(t, ctx, `li.share.created a.share-url`)
	testenv.Screenshot(t, ctx, "02-share-created")
	// The SVG QR as Chromium renders it decodes to exactly the share URL.
	// Visible is not loaded: wait for the image itself before capturing it.
	waitImage(t, ctx, `li.share.created img.qr`)
	qrShot, err := screenshot(ctx, `li.share.created img.qr`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := qr.Decode(qrShot); err != nil || got != url {
		t.Fatalf("rendered QR decodes to %q, %v; want %q", got, err, url)
	}

	run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	verdict, holder = text(t, ctx, `#verdict`), text(t, ctx, `#holder-name`)
	testenv.Screenshot(t, ctx, "03-share-page-valid")
	if !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") {
		t.Fatalf("share page verdict = %q", verdict)
	}
	if !strings.Contains(holder, "*") {
		t.Fatalf("holder name not masked: %q", holder)
	}
	purpose := text(t, ctx, `.purpose`)
	if !strings.Contains(purpose, "办理银行开户") {
		t.Fatalf("purpose watermark: %q", purpose)
	}

	// English on request.
	run(t, ctx, chromedp.Navigate(url+"?lang=en"), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	en := text(t, ctx, `#verdict`)
	if !strings.Contains(en, "VALID") {
		t.Fatalf("English verdict = %q", en)
	}

	// The authority revokes the certificate: the same link now says so.
	token := url[strings.LastIndex(url, "/")+1:]
	sh, err := h.Store.UseShare(context.Background(), exchange.HashSecret(token), exchange.ShareView{Client: "test", Network: "test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Certs.Lifecycle(context.Background(), certificates.Scope{}, sh.CertificateID, certificates.Revoke, "以欺骗手段取得"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Navigate(url+"?lang=zh"), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	verdict = text(t, ctx, `#verdict`)
	testenv.Screenshot(t, ctx, "04-share-page-revoked")
	if !strings.Contains(verdict, "无效") || !strings.Contains(verdict, "撤销") {
		t.Fatalf("after revocation the verdict = %q", verdict)
	}

	// Back in the wallet, the views are listed, and revoking the share ends it.
	run(t, ctx, chromedp.Navigate(base+"/wallet"), chromedp.WaitVisible(chromedp.CSS(`table.views-table`)))
	views := text(t, ctx, `table.views-table`)
	if !strings.Contains(views, "127.0.0.0/24") || strings.Contains(views, "127.0.0.1") {
		t.Fatalf("views table = %q", views)
	}
	testenv.Screenshot(t, ctx, "05-wallet-views")

	// On a phone-sized screen the wallet fits: nothing scrolls sideways.
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(base+"/wallet"), chromedp.WaitVisible(chromedp.CSS(`li.cert`)))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Screenshot(t, ctx, "06-wallet-phone")
	if overflow {
		t.Fatal("the wallet is wider than a phone screen")
	}
}

// validShareQR makes a share of a valid demo certificate and returns its
// URL and the QR PNG.
func validShareQR(t *testing.T, h *hubtest.Hub, seeded *demo.Seeded) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	for _, d := range seeded.Holders {
		hold := exchange.Holder{Kind: d.Kind, ID: d.ID}
		certs, err := h.Shares.MyCertificates(ctx, hold)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range certs {
			if c.StatusOn(h.Certs.Today()) != certificates.StatusValid {
				continue
			}
			_, token, err := h.Shares.Create(ctx, hold, &exchange.ShareRequest{CertificateID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			url := h.Srv.URL + "/s/" + token
			img, err := qr.PNG(url, 6)
			if err != nil {
				t.Fatal(err)
			}
			return url, img
		}
	}
	t.Fatal("no valid demo certificate")
	return "", nil
}

func clerkSignIn(t testing.TB, ctx context.Context, base string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(base+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#demo-clerk`)), chromedp.Click(chromedp.CSS(`#demo-clerk`)), chromedp.WaitVisible(chromedp.CSS(`#upload-submit`)))
}

// TestBrowserClerkJourney: upload a QR photo → green; paste a tampered
// document → red; type an identifier; upload a file that is no image.
func TestBrowserClerkJourney(t *testing.T) {
	h, seeded := demoHub(t)
	_, img := validShareQR(t, h, seeded)
	dir := t.TempDir()
	qrFile := filepath.Join(dir, "share-qr.png")
	if err := os.WriteFile(qrFile, img, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Browser(t, "")
	clerkSignIn(t, ctx, h.Srv.URL)
	testenv.Screenshot(t, ctx, "10-verify-page")

	run(t, ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#image`), []string{qrFile}),
		chromedp.Click(chromedp.CSS(`#upload-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	verdict, class := text(t, ctx, `#verdict`), attr(t, ctx, `#verdict`, "class")
	testenv.Screenshot(t, ctx, "11-verify-upload-valid")
	if !strings.Contains(verdict, "有效") || !strings.Contains(class, "ok") {
		t.Fatalf("uploaded QR: verdict %q class %q", verdict, class)
	}

	// A document with a forged payload.
	res, err := h.Certs.Issue(context.Background(), certificates.Scope{}, demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(1, 2)), 4242)), nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(res.Document), ".")
	forged := parts[0] + "." + parts[1][:len(parts[1])-4] + "AAAA." + parts[2]
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/verify"),
		chromedp.WaitVisible(chromedp.CSS(`#document`)),
		chromedp.SetValue(chromedp.CSS(`#document`), forged),
		chromedp.Click(chromedp.CSS(`#paste-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	verdict, class = text(t, ctx, `#verdict`), attr(t, ctx, `#verdict`, "class")
	testenv.Screenshot(t, ctx, "12-verify-tampered")
	if !strings.Contains(verdict, "无效") || !strings.Contains(verdict, "伪造签名") || !strings.Contains(class, "bad") {
		t.Fatalf("tampered document: verdict %q class %q", verdict, class)
	}

	// The genuine document, pasted, is valid; its identifier typed in shows a masked holder.
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#document`)),
		chromedp.SetValue(chromedp.CSS(`#document`), string(res.Document)), chromedp.Click(chromedp.CSS(`#paste-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	verdict = text(t, ctx, `#verdict`)
	if !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") {
		t.Fatalf("genuine document: %q", verdict)
	}
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#identifier`)),
		chromedp.SetValue(chromedp.CSS(`#identifier`), res.Certificate.ID), chromedp.Click(chromedp.CSS(`#number-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	details := text(t, ctx, `.result`)
	testenv.Screenshot(t, ctx, "13-verify-identifier")
	if !strings.Contains(details, "有效") || strings.Contains(details, res.Certificate.Holder.Name) || strings.Contains(details, res.Certificate.Holder.ID) {
		t.Fatalf("identifier result reveals the holder: %q", details)
	}

	// A file that is not an image: a clear message, not a 500.
	notImage := filepath.Join(dir, "notes.png")
	_ = os.WriteFile(notImage, []byte("this is not a picture"), 0o644)
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#image`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#image`), []string{notImage}), chromedp.Click(chromedp.CSS(`#upload-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	verdict = text(t, ctx, `#verdict`)
	testenv.Screenshot(t, ctx, "14-verify-not-an-image")
	if !strings.Contains(verdict, "无法读取图片") || !strings.Contains(verdict, "not an image") {
		t.Fatalf("not an image: %q", verdict)
	}
}

// TestBrowserCameraScan: the page's camera scanner reads a QR code from
// Chromium's fake camera (a Y4M video of the share's QR code) and shows
// the result.
func TestBrowserCameraScan(t *testing.T) {
	h, seeded := demoHub(t)
	_, img := validShareQR(t, h, seeded)
	video := filepath.Join(t.TempDir(), "camera.y4m")
	writeY4M(t, video, img)
	ctx := testenv.Browser(t, video)
	clerkSignIn(t, ctx, h.Srv.URL)
	run(t, ctx,
		chromedp.Click(chromedp.CSS(`#start-camera`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	verdict := text(t, ctx, `#verdict`)
	testenv.Screenshot(t, ctx, "15-verify-camera")
	if !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") {
		t.Fatalf("camera scan verdict = %q", verdict)
	}
}

// writeY4M writes a short 4:2:0 video whose frames show the PNG centred on
// white, the format Chromium's fake camera plays.
func writeY4M(t *testing.T, path string, pngData []byte) {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	const w, hgt = 640, 480
	y := make([]byte, w*hgt)
	for i := range y {
		y[i] = 235
	}
	b := src.Bounds()
	ox, oy := (w-b.Dx())/2, (hgt-b.Dy())/2
	for py := 0; py < b.Dy() && oy+py < hgt; py++ {
		for px := 0; px < b.Dx() && ox+px < w; px++ {
			if r, _, _, _ := src.At(b.Min.X+px, b.Min.Y+py).RGBA(); r < 0x8000 {
				y[(oy+py)*w+ox+px] = 16
			}
		}
	}
	chroma := make([]byte, w*hgt/2)
	for i := range chroma {
		chroma[i] = 128
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, hgt)
	for f := 0; f < 10; f++ {
		buf.WriteString("FRAME\n")
		buf.Write(y)
		buf.Write(chroma)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserAdminReport: an administrator signs in and reads two months of
// use as a chart whose bars add up to the table's total.
func TestBrowserAdminReport(t *testing.T) {
	h, seeded := demoHub(t)
	bg := context.Background()
	record := func(n int, e exchange.AuditEntry) {
		for i := 0; i < n; i++ {
			if err := h.Ledger.Record(bg, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	cert := []string{seeded.SampleIDs[0]}
	start := h.Clock.Now()
	record(7, exchange.AuditEntry{Actor: "consumer:tok_market", ActorName: "市场监管局审批系统", Action: "lookup", Certificates: cert, Purpose: "食品经营许可", CaseID: "2026-001"})
	record(3, exchange.AuditEntry{Actor: "clerk:tok_window", Action: "clerk_verify", Certificates: cert, Purpose: "窗口核验"})
	record(2, exchange.AuditEntry{Actor: "issuer:tok_hr", Action: "issue", Certificates: cert})
	h.Clock.Advance(35 * 24 * time.Hour)
	record(4, exchange.AuditEntry{Actor: "consumer:tok_market", Action: "lookup", Certificates: cert, Purpose: "食品经营许可", CaseID: "2026-002"})
	from, to := start.AddDate(0, 0, -1).Format("2006-01-02"), h.Clock.Now().AddDate(0, 0, 1).Format("2006-01-02")

	ctx := testenv.Browser(t, "")
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/admin/reports"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), h.Admin),
		chromedp.Click(chromedp.CSS(`#admin-sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#period`)),
		chromedp.SetValue(chromedp.CSS(`#from`), from),
		chromedp.SetValue(chromedp.CSS(`#to`), to),
		chromedp.Click(chromedp.CSS(`#show`)),
		// The page before the click has a chart too (this year so far):
		// wait for the one of the range asked for.
		chromedp.WaitVisible(chromedp.CSS(`#usage-chart[data-range="month/`+from+`/`+to+`"]`)),
	)
	testenv.Screenshot(t, ctx, "20-admin-report")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#usage-chart g.bar').length`))
	if err != nil {
		t.Fatal(err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#usage-chart g.bar rect')].reduce((n, r) => n + Number(r.dataset.count), 0)`))
	if err != nil {
		t.Fatal(err)
	}
	// Each bar is drawn inside the chart, above its baseline.
	inside, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { return [...document.querySelectorAll('#usage-chart g.bar rect')].every(r => { const b = r.getBBox(); return b.height > 0 && b.y >= 0 && b.y + b.height <= 251; }); })()`))
	if err != nil {
		t.Fatal(err)
	}
	total := text(t, ctx, `#grand-total`)
	if bars != 2 || drawn != 16 || total != "16" || !inside {
		t.Fatalf("chart: %d bars adding to %d (inside: %v), table total %q; want 2 bars, 16", bars, drawn, inside, total)
	}
	if top := text(t, ctx, `#actor-table tbody tr`); !strings.Contains(top, "consumer:tok_market") || !strings.Contains(top, "11") {
		t.Fatalf("heaviest user row: %q", top)
	}
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/admin/reports?lang=en&period=quarter&from="+from+"&to="+to),
		chromedp.WaitVisible(chromedp.CSS(`#usage-chart[data-range="quarter/`+from+`/`+to+`"]`)))
	testenv.Screenshot(t, ctx, "21-admin-report-en")
	if title := text(t, ctx, `h1`); title != "Usage statistics" {
		t.Fatalf("English title: %q", title)
	}
}

// TestBrowserAdminAgreements: an administrator sees the demo's agreements,
// the one awaiting approval first, approves it from the page, and the
// department system can read under it at once.
func TestBrowserAdminAgreements(t *testing.T) {
	h, _ := demoHub(t)
	ctx := testenv.Browser(t, "")
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/admin/agreements"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), h.Admin),
		chromedp.Click(chromedp.CSS(`#admin-sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#period`)), // sign-in lands on the reports
		chromedp.Navigate(h.Srv.URL+"/admin/agreements"),
		chromedp.WaitVisible(chromedp.CSS(`#agreements`)),
	)
	states, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#agreements tbody tr')].map(r => r.dataset.state)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 4 || states[0] != "requested" || states[1] != "active" || states[3] != "active" {
		t.Fatalf("rows by state: %v", states)
	}
	if badge := text(t, ctx, `#agreements tbody tr:first-child .badge`); badge != "待审批" {
		t.Fatalf("pending badge: %q", badge)
	}
	testenv.Screenshot(t, ctx, "22-admin-agreements")
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#agreements tbody tr').id`))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(`tr[id="`+id+`"] input[name=reason]`), "依据 2026 年度共享责任清单"),
		chromedp.Click(chromedp.CSS(`tr[id="`+id+`"] button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[id="`+id+`"][data-state="active"]`)),
	)
	a, err := h.Registry.Store.Agreement(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != exchange.AgreementApproved || a.DecidedBy != "admin:bootstrap" || a.Reason != "依据 2026 年度共享责任清单" {
		t.Fatalf("decided: %+v", a)
	}
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/admin/agreements?lang=en"), chromedp.WaitVisible(chromedp.CSS(`#agreements`)))
	testenv.Screenshot(t, ctx, "23-admin-agreements-en")
	if title := text(t, ctx, `h1`); title != "Sharing agreements" {
		t.Fatalf("English title: %q", title)
	}
}

// TestBrowserOnceOnly: a department resolves cases; the administrator's
// materials page shows the share avoided as a chart and a table; a company
// checks in its wallet what it still must bring for 食品经营许可 新办.
func TestBrowserOnceOnly(t *testing.T) {
	h, seeded := demoHub(t)
	var key string
	for _, tk := range seeded.Tokens {
		if tk.Role == exchange.RoleConsumer {
			key = tk.Secret
		}
	}
	resolve := func(item, caseID string) {
		body := fmt.Sprintf(`{"applicant":{"id":%q},"case_id":%q,"purpose":%q}`, seeded.SampleOrg.USCC, caseID, item)
		req, _ := http.NewRequest("POST", h.Srv.URL+"/api/v1/service-items/"+item+"/resolve", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("resolve %s: %d", item, resp.StatusCode)
		}
	}
	resolve(demo.ItemFoodNew, "2026-SP-1")
	resolve(demo.ItemFoodNew, "2026-SP-1") // a retry: counted once
	resolve(demo.ItemCompanyChange, "2026-QY-1")
	rows, err := h.API.Items.MaterialsReport(context.Background(), "year", h.Certs.Today().String()[:4]+"-01-01", h.Certs.Today().String())
	if err != nil {
		t.Fatal(err)
	}
	cases, required, avoided := 0, 0, 0
	for _, r := range rows {
		cases, required, avoided = cases+r.Cases, required+r.Required, avoided+r.Avoided
	}
	if cases != 2 || avoided == 0 {
		t.Fatalf("report: %d cases, %d of %d avoided", cases, avoided, required)
	}

	ctx := testenv.Browser(t, "")
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), h.Admin),
		chromedp.Click(chromedp.CSS(`#admin-sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#period`)),
		chromedp.Navigate(h.Srv.URL+"/admin/materials?period=year"),
		chromedp.WaitVisible(chromedp.CSS(`#share-chart`)),
	)
	testenv.Screenshot(t, ctx, "24-admin-materials")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#share-chart g.share-bar').length`))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%.1f%%", 100*float64(avoided)/float64(required))
	if got := text(t, ctx, `#total-share`); bars != 2 || got != want {
		t.Fatalf("chart: %d bars, total share %q; want 2 bars, %s", bars, got, want)
	}
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/admin/materials?period=year&lang=en"), chromedp.WaitVisible(chromedp.CSS(`#share-chart`)))
	testenv.Screenshot(t, ctx, "25-admin-materials-en")
	// The catalog page flags the demo's catch-all materials.
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/admin/items?lang=zh"), chromedp.WaitVisible(chromedp.CSS(`#item-`+demo.ItemFoodNew)))
	testenv.Screenshot(t, ctx, "27-admin-items")
	flags, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.flag[data-flag="catch_all"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if flags != 2 { // 其他有关材料, 公安机关认为需要提供的其他材料
		t.Fatalf("%d catch-all flags, want 2", flags)
	}

	// The company, in its wallet.
	holder := -1
	for i, dh := range seeded.Holders {
		if dh.ID == seeded.SampleOrg.USCC {
			holder = i
		}
	}
	if holder < 0 {
		t.Fatal("the sample company is not a demo holder")
	}
	wallet := testenv.Browser(t, "")
	run(t, wallet,
		chromedp.Navigate(h.Srv.URL+"/wallet"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`button[data-holder="%d"]`, holder))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-holder="%d"]`, holder))),
		chromedp.WaitVisible(chromedp.CSS(`#item`)),
		chromedp.SetValue(chromedp.CSS(`#item`), demo.ItemFoodNew),
		chromedp.Click(chromedp.CSS(`#check-item`)),
		chromedp.WaitVisible(chromedp.CSS(`#bring-answer[data-item="`+demo.ItemFoodNew+`"]`)),
		chromedp.ScrollIntoView(chromedp.CSS(`#bring-answer`)),
	)
	testenv.Screenshot(t, wallet, "26-wallet-what-to-bring")
	satisfied, err := chromedp.Run(wallet, chromedp.Evaluate[int](`document.querySelectorAll('#bring-answer li[data-outcome="satisfied"]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if n := text(t, wallet, `#bring-avoided`); satisfied == 0 || n != fmt.Sprint(satisfied) {
		t.Fatalf("wallet check: %d satisfied, summary says %q", satisfied, n)
	}
	// The department's resolves are in "who used my certificates", with the
	// purpose by its name, not its code.
	if used := text(t, wallet, `table.accesses-table tbody`); !strings.Contains(used, "食品经营许可 新办") || !strings.Contains(used, "2026-SP-1") {
		t.Fatalf("accesses: %q", used)
	}
	// The holder's own check is not a department's use: nothing counted.
	after, _ := h.API.Items.MaterialsReport(context.Background(), "year", h.Certs.Today().String()[:4]+"-01-01", h.Certs.Today().String())
	n := 0
	for _, r := range after {
		n += r.Cases
	}
	if n != cases {
		t.Fatalf("the wallet check was counted: %d cases, was %d", n, cases)
	}
}
