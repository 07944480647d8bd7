package web_test

import (
	"bytes"
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/layout"
)

// borderPNG is a w×h picture with a coloured frame: template artwork.
func borderPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < 6 || y < 6 || x >= w-6 || y >= h-6 {
				img.Set(x, y, color.NRGBA{0xb8, 0x86, 0x0b, 0xff})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// landscapeTemplate is a department's template for the demo's food permit.
func landscapeTemplate(t *testing.T) *certificates.Template {
	row := func(name string, y float64) certificates.TemplateField {
		return certificates.TemplateField{Name: name,
			LabelBox: &certificates.TextBox{Box: certificates.Box{X: 30, Y: y, W: 55, H: 9}, SizeMM: 5, Align: layout.Right, Bold: true},
			Value:    certificates.TextBox{Box: certificates.Box{X: 90, Y: y, W: 150, H: 9}, SizeMM: 5}}
	}
	return &certificates.Template{
		Page:  certificates.A4Landscape,
		Title: certificates.Title{Text: "食品经营许可证（副本）", TextBox: certificates.TextBox{Box: certificates.Box{X: 10, Y: 18, W: 277, H: 16}, SizeMM: 11, Align: layout.Center, Bold: true}},
		Fields: []certificates.TemplateField{row("holder_name", 50), row("holder_id", 62), row("permit_no", 74), row("address", 86), row("valid_until", 98),
			{Name: "authority_name", Value: certificates.TextBox{Box: certificates.Box{X: 190, Y: 168, W: 90, H: 9}, SizeMM: 5, Align: layout.Center}},
			{Name: "issued_at", Value: certificates.TextBox{Box: certificates.Box{X: 190, Y: 179, W: 90, H: 9}, SizeMM: 5, Align: layout.Center}}},
		Seal:       certificates.Box{X: 215, Y: 155, W: 40, H: 40},
		QR:         certificates.Box{X: 25, Y: 155, W: 35, H: 35},
		Background: &certificates.Artwork{PNG: borderPNG(t, 297, 210)},
	}
}

// TestTemplatePreviewPage: the preview shows the default layout of a type
// without a template, and the department's template (with its artwork,
// served to administrators only) once one is set.
func TestTemplatePreviewPage(t *testing.T) {
	h := hubtest.New(t)
	if _, err := demo.Seed(context.Background(), h.Certs, h.API.Items, time.Now()); err != nil {
		t.Fatal(err)
	}
	food := demo.Market + "002"
	admin := newClient(t, h, true)
	if st, _, _ := admin.post("/admin/login", url.Values{"token": {h.Admin}}); st != 200 {
		t.Fatalf("admin sign-in: %d", st)
	}
	st, body, _ := admin.get("/admin/types")
	if st != 200 || !strings.Contains(body, `id="type-`+food+`"`) || !strings.Contains(body, `href="/admin/types/`+food+`/template" class="preview" data-template="false"`) ||
		strings.Count(body, `class="preview"`) != len(demo.Types()) {
		t.Fatalf("types page: %d\n%.3000s", st, body)
	}
	st, body, _ = admin.get("/admin/types/" + food + "/template")
	if st != 200 || !strings.Contains(body, `data-default="true"`) || !strings.Contains(body, `viewBox="0 0 210 297"`) ||
		!strings.Contains(body, "食品经营许可证") || !strings.Contains(body, "许可证编号") || !strings.Contains(body, `href="/api/v1/authorities/`+demo.Market+`/seal"`) {
		t.Fatalf("default preview: %d\n%.3000s", st, body)
	}
	if st, _, _ := admin.get("/admin/types/" + food + "/template/background.png"); st != 404 {
		t.Fatalf("artwork of a type without a template: %d", st)
	}
	if err := h.Certs.SetTypeTemplate(context.Background(), food, landscapeTemplate(t)); err != nil {
		t.Fatal(err)
	}
	st, body, _ = admin.get("/admin/types/" + food + "/template?lang=en")
	if st != 200 || !strings.Contains(body, `data-default="false"`) || !strings.Contains(body, `viewBox="0 0 297 210"`) ||
		!strings.Contains(body, "食品经营许可证（副本）") || !strings.Contains(body, "The department&#39;s template") ||
		!strings.Contains(body, `/admin/types/`+food+`/template/background.png`) {
		t.Fatalf("custom preview: %d\n%.3000s", st, body)
	}
	if _, body, _ := admin.get("/admin/types"); !strings.Contains(body, `href="/admin/types/`+food+`/template" class="preview" data-template="true"`) {
		t.Fatalf("types page after a template was set:\n%.3000s", body)
	}
	st, art, hdr := admin.get("/admin/types/" + food + "/template/background.png")
	if st != 200 || hdr.Get("Content-Type") != "image/png" || !strings.HasPrefix(art, "\x89PNG") {
		t.Fatalf("artwork: %d %s", st, hdr.Get("Content-Type"))
	}
	if st, _, _ := admin.get("/admin/types/" + demo.Market + "999/template"); st != 404 {
		t.Fatalf("unknown type: %d", st)
	}
}

// TestBrowserTemplatePreview: Chromium shows the department's template
// under the pages' CSP: the artwork and the authority's seal load from the
// hub, the seal is red and sits over the authority's name.
func TestBrowserTemplatePreview(t *testing.T) {
	h, _ := demoHub(t)
	food := demo.Market + "002"
	if err := h.Certs.SetTypeTemplate(context.Background(), food, landscapeTemplate(t)); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Browser(t, "")
	run(t, ctx,
		chromedp.Navigate(h.Srv.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), h.Admin),
		chromedp.Click(chromedp.CSS(`#admin-sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#period`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/types"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#types`)),
		chromedp.Click(chromedp.CSS(`#type-`+food+` a.preview`)),
		chromedp.WaitVisible(chromedp.CSS(`#template-page`)),
	)
	// SVG images have no "complete": wait until the seal is painted red.
	var buf []byte
	red := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		buf, err = screenshot(ctx, `#template-seal`)
		if err != nil {
			t.Fatal(err)
		}
		if red = redPixels(t, buf); red > 200 || time.Now().After(deadline) {
			break
		}
	}
	if red <= 200 {
		t.Fatalf("the seal on the preview shows only %d red pixels: not loaded under the CSP?", red)
	}
	testenv.Screenshot(t, ctx, "41-template-preview")
	// The seal box covers the authority's name, as on paper.
	over, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const s = document.querySelector('#template-seal').getBBox();
		const n = [...document.querySelectorAll('#template-page text')].find(t => t.textContent === '`+"杭州市市场监督管理局"+`');
		if (!n) return false;
		const b = n.getBBox();
		return b.x < s.x + s.width && s.x < b.x + b.width && b.y < s.y + s.height && s.y < b.y + b.height;
	})()`))
	if err != nil || !over {
		t.Fatalf("seal over the authority's name: %v %v", over, err)
	}
	if kind := attr(t, ctx, `#template-kind`, "data-default"); kind != "false" {
		t.Fatalf("template kind: %s", kind)
	}
	// A type without a template: the default A4 portrait layout.
	run(t, ctx, chromedp.Navigate(h.Srv.URL+"/admin/types/"+demo.Resources+"001/template"),
		chromedp.WaitVisible(chromedp.CSS(`#template-page`)))
	if kind := attr(t, ctx, `#template-kind`, "data-default"); kind != "true" {
		t.Fatalf("template kind of a type without one: %s", kind)
	}
	testenv.Screenshot(t, ctx, "42-template-default")
}

func redPixels(t *testing.T, buf []byte) int {
	t.Helper()
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
	return red
}
