package web_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/certhub/certhub/internal/testenv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/qr"
)

// verifyCompactText checks a compact QR text against the hub's seal keys,
// by their public JWKs.
func verifyCompactText(t *testing.T, h *hubtest.Hub, text string) *compactqr.Result {
	t.Helper()
	keys, err := h.Certs.Keys.Keys(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compactqr.Verify(text, func(kid []byte) (crypto.PublicKey, error) {
		for _, k := range keys {
			if th, _ := base64.RawURLEncoding.DecodeString(k.KID); len(th) >= 8 && bytes.Equal(th[:8], kid) {
				jk, err := jwk.ParseKey(k.PublicJWK)
				if err != nil {
					return nil, err
				}
				var pub any
				return pub, jwk.Export(jk, &pub)
			}
		}
		return nil, errors.New("unknown kid")
	}, time.Now())
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return res
}

// submitAndWait clicks what submits a form and waits for the page the
// form leads to (not the one it was on, which may already show the same
// element) to show want.
func submitAndWait(t *testing.T, ctx context.Context, button, want string) {
	t.Helper()
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.certhubOldPage = true`), chromedp.Click(chromedp.CSS(button)))
	js := fmt.Sprintf(`!window.certhubOldPage && document.readyState === 'complete' && !!document.querySelector(%q)`, want)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after clicking %s, %s did not appear on a new page", button, want)
		}
	}
}

// readCompact screenshots the compact QR picture matching sel, decodes
// it, and checks the character count the page shows beside it.
func readCompact(t *testing.T, ctx context.Context, h *hubtest.Hub, sel, countSel string) (string, *compactqr.Result) {
	t.Helper()
	waitImage(t, ctx, sel)
	img, err := screenshot(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	got, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("the compact QR on the page does not decode: %v", err)
	}
	if n, _ := strconv.Atoi(attr(t, ctx, countSel, "data-chars")); n != len(got) || n > 800 {
		t.Fatalf("the page says %d characters; the code has %d", n, len(got))
	}
	return got, verifyCompactText(t, h, got)
}

// TestBrowserWalletCompactQR: in the wallet a company shows the offline QR
// of its food business licence with every shareable field (the count
// beside it ≤ 800), unticks two fields and sees a smaller one; the
// picture Chromium renders decodes to a code that verifies with the
// authority's seal key. A share of that licence offers the compact QR of
// exactly the shared fields, the name masked.
func TestBrowserWalletCompactQR(t *testing.T) {
	h, seeded := demoHub(t)
	holderIdx, org := -1, demo.DemoHolder{}
	for i, d := range seeded.Holders {
		if d.Kind == certificates.Organisation {
			holderIdx, org = i, d
			break
		}
	}
	certs, err := h.Shares.MyCertificates(context.Background(), exchange.Holder{Kind: org.Kind, ID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	var food *certificates.Certificate
	for _, c := range certs {
		if c.Type == demo.Market+"002" && c.StatusOn(h.Certs.Today()) == certificates.StatusValid {
			food = c
		}
	}
	if food == nil {
		t.Fatalf("the demo company %s has no valid food licence", org.Name)
	}
	card := `li[id="cert-` + food.ID + `"]`
	ctx := testenv.Browser(t, "")
	base := h.Srv.URL
	run(t, ctx,
		chromedp.Navigate(base+"/wallet"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-holder="`+strconv.Itoa(holderIdx)+`"]`)),
		chromedp.Click(chromedp.CSS(`button[data-holder="`+strconv.Itoa(holderIdx)+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Click(chromedp.CSS(card+` details.compact-form summary`)),
	)
	submitAndWait(t, ctx, card+` details.compact-form button.show-compact`, card+` figure.compact-qr img.compact-img`)
	testenv.Screenshot(t, ctx, "60-wallet-compact-qr")
	full, res := readCompact(t, ctx, h, card+` img.compact-img`, card+` .compact-chars`)
	if res.Licence.ID != food.ID || len(res.Licence.Fields) != 5 || !strings.Contains(res.Licence.Holder, "*") {
		t.Fatalf("all shareable fields: %+v", res.Licence)
	}
	t.Logf("food licence, 5 fields: %d characters", len(full))

	// Fewer fields, a smaller code: unticking shows the new code at once.
	submitAndWait(t, ctx, card+` details.compact-form input[value="business_items"]`, card+` figure.compact-qr img.compact-img`)
	if n, _ := strconv.Atoi(attr(t, ctx, card+` .compact-chars`, "data-chars")); n >= len(full) {
		t.Fatalf("4 fields: %d characters, 5 fields: %d", n, len(full))
	}
	submitAndWait(t, ctx, card+` details.compact-form input[value="operator_type"]`, card+` figure.compact-qr img.compact-img`)
	small, res := readCompact(t, ctx, h, card+` img.compact-img`, card+` .compact-chars`)
	if len(res.Licence.Fields) != 3 || len(small) >= len(full) {
		t.Fatalf("3 fields: %d characters (5 fields: %d), fields %v", len(small), len(full), res.Licence.Fields)
	}
	if caption := text(t, ctx, card+` figure.compact-qr figcaption`); strings.Contains(caption, "经营项目") || !strings.Contains(caption, "经营场所") {
		t.Fatalf("caption %q", caption)
	}
	testenv.Screenshot(t, ctx, "61-wallet-compact-qr-fewer")

	// A share of two fields: its page offers exactly those, masked.
	sh, token, err := h.Shares.Create(context.Background(), exchange.Holder{Kind: org.Kind, ID: org.ID},
		&exchange.ShareRequest{CertificateID: food.ID, Fields: []string{"permit_no", "address"}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx,
		chromedp.Navigate(base+"/s/"+token),
		chromedp.WaitVisible(chromedp.CSS(`#verdict`)),
		chromedp.Click(chromedp.CSS(`details#compact-share summary`)),
		chromedp.WaitVisible(chromedp.CSS(`details#compact-share img.compact-img`)),
	)
	testenv.Screenshot(t, ctx, "62-share-compact-qr")
	_, res = readCompact(t, ctx, h, `details#compact-share img.compact-img`, `details#compact-share .compact-chars`)
	if len(res.Licence.Fields) != 2 || res.Licence.Fields[1] != food.Data["permit_no"] || res.Licence.Fields[5] != food.Data["address"] ||
		res.Licence.Holder != certificates.MaskName(org.Kind, org.Name) {
		t.Fatalf("share %s: %+v", sh.ID, res.Licence)
	}
	// Revoked share: no page, so no compact QR.
	if err := h.Shares.Revoke(context.Background(), exchange.Holder{Kind: org.Kind, ID: org.ID}, sh.ID); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Navigate(base+"/s/"+token), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#compact-share').length`)); err != nil || n != 0 {
		t.Fatalf("a revoked share still offers a compact QR (%d, %v)", n, err)
	}
}
