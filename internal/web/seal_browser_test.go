package web_test

import (
	"bytes"
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"image"
	_ "image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/sealimage"
)

// stampIsRed screenshots the seal stamp as Chromium shows it and checks
// that the seal's red is there (the picture loaded under the pages' CSP
// and is not hidden behind anything).
func stampIsRed(t *testing.T, ctx context.Context) {
	t.Helper()
	waitImage(t, ctx, `#seal-stamp img`)
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#seal-stamp img').naturalWidth`)); err != nil || w != sealimage.Size {
		t.Fatalf("seal picture is %d pixels wide (%v), want %d", w, err, sealimage.Size)
	}
	buf, err := screenshot(ctx, `#seal-stamp`)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	red := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 > 180 && g>>8 < 110 && bl>>8 < 110 {
				red++
			}
		}
	}
	if red < b.Dx()*b.Dy()/20 {
		t.Fatalf("the seal stamp shows only %d red pixels of %d", red, b.Dx()*b.Dy())
	}
}

// TestBrowserSealOnPages: the share page and the clerk's verify page show
// the issuing authority's seal, small, stamped over its name, next to a
// valid result; an invalid result shows none.
func TestBrowserSealOnPages(t *testing.T) {
	h, seeded := demoHub(t)
	url, _ := validShareQR(t, h, seeded)
	ctx := testenv.Browser(t, "")

	run(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	stampIsRed(t, ctx)
	testenv.Screenshot(t, ctx, "30-share-page-seal")
	name := text(t, ctx, `#seal-stamp figcaption`)
	if name == "" || !strings.Contains(text(t, ctx, `.details`), name) {
		t.Fatalf("the stamp's caption %q is not the issuing authority", name)
	}
	if alt := attr(t, ctx, `#seal-stamp img`, "alt"); !strings.Contains(alt, name) || !strings.Contains(alt, "印章") {
		t.Fatalf("seal alt = %q", alt)
	}

	// The clerk types the identifier of a valid certificate.
	res, err := h.Certs.Issue(context.Background(), certificates.Scope{}, demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(3, 4)), 4343)), nil)
	if err != nil {
		t.Fatal(err)
	}
	clerkSignIn(t, ctx, h.Srv.URL)
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(`#identifier`), res.Certificate.ID), chromedp.Click(chromedp.CSS(`#number-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	stampIsRed(t, ctx)
	testenv.Screenshot(t, ctx, "31-verify-seal")
	if src := attr(t, ctx, `#seal-stamp img`, "src"); src != "/api/v1/authorities/"+res.Certificate.Authority+"/seal" {
		t.Fatalf("seal src = %q, want the issuer %s", src, res.Certificate.Authority)
	}
	// English labels the picture in English.
	run(t, ctx, chromedp.Navigate(url+"?lang=en"), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	if alt := attr(t, ctx, `#seal-stamp img`, "alt"); !strings.HasSuffix(alt, " seal") {
		t.Fatalf("English seal alt = %q", alt)
	}

	// Once revoked, the certificate's result carries no seal.
	if _, err := h.Certs.Lifecycle(context.Background(), certificates.Scope{}, res.Certificate.ID, certificates.Revoke, "测试撤销"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/verify?lang=zh"), chromedp.WaitVisible(chromedp.CSS(`#identifier`)),
		chromedp.SetValue(chromedp.CSS(`#identifier`), res.Certificate.ID), chromedp.Click(chromedp.CSS(`#number-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#seal-stamp').length`))
	if err != nil || n != 0 {
		t.Fatalf("a revoked certificate's result shows %d seals (%v)", n, err)
	}
	testenv.Screenshot(t, ctx, "32-verify-revoked-no-seal")
}
