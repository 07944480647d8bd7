package web_test

import (
	"bytes"
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
)

// download clicks sel and waits for Chromium to save what it fetched into
// dir (downloads allowed there, named by GUID); it returns the saved
// bytes, stored again under name so an upload carries a real file name.
func download(t *testing.T, ctx context.Context, dir, sel, name string) (string, []byte) {
	t.Helper()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(wait, cdpbrowser.DownloadProgress)
	run(t, ctx, chromedp.Click(chromedp.CSS(sel)))
	var saved string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download of %s: %v", sel, err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatalf("the download of %s was cancelled", sel)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			saved = filepath.Join(dir, ev.GUID)
			break
		}
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestBrowserAnnotatedJourney is the journey with an annotated
// copy: the holder makes a 加注件 in the wallet, which lists it, and
// downloads its OFD and PDF; the clerk uploads each on /verify and sees 有效;
// after the certificate is revoked the same files say 无效, 已撤销.
func TestBrowserAnnotatedJourney(t *testing.T) {
	fh := newFileHub(t)
	ctx := testenv.Browser(t, "")
	dir := t.TempDir()
	card := `#cert-` + cssID(fh.mine.ID)
	run(t, ctx,
		chromedp.Navigate(fh.Srv.URL+"/wallet"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.Click(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+` details.annotate-form summary`)),
		chromedp.Click(chromedp.CSS(card+` details.annotate-form summary`)),
		chromedp.WaitVisible(chromedp.CSS(card+` input[name="purpose"][id^="ann-purpose-"]`)),
		chromedp.SendKeys(chromedp.CSS(card+` input[name="purpose"][id^="ann-purpose-"]`), "办理银行开户"),
		chromedp.Click(chromedp.CSS(card+` button.create-annotated`)),
		chromedp.WaitVisible(chromedp.CSS(`li.annotated-copy.created a.download-pdf`)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			events := true
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events})
			return err
		}),
	)
	listed := text(t, ctx, `li.annotated-copy.created`)
	if want := fh.Certs.Today().AddDays(30).String(); !strings.Contains(listed, "办理银行开户") || !strings.Contains(listed, want) || !strings.Contains(listed, "有效") {
		t.Fatalf("the new copy reads %q, want its purpose, expiry %s and 有效", listed, want)
	}
	testenv.Screenshot(t, ctx, "47-wallet-annotated")

	ofdFile, ofd := download(t, ctx, dir, `li.annotated-copy.created a.download-ofd`, "copy.ofd")
	pdfFile, pdf := download(t, ctx, dir, `li.annotated-copy.created a.download-pdf`, "copy.pdf")
	if !bytes.HasPrefix(ofd, []byte("PK\x03\x04")) || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("downloads: OFD %.8q, PDF %.8q", ofd, pdf)
	}
	if text := pdfText(t, string(pdf)); !strings.Contains(text, "仅用于办理银行开户") {
		t.Fatalf("the downloaded PDF lacks the watermark:\n%s", text)
	}

	upload := func(path string) (verdict, class string) {
		t.Helper()
		run(t, ctx, chromedp.Navigate(fh.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#licence-file`)),
			chromedp.SetUploadFiles(chromedp.CSS(`#licence-file`), []string{path}), chromedp.Click(chromedp.CSS(`#file-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
		return text(t, ctx, `#verdict`), attr(t, ctx, `#verdict`, "class")
	}
	// The holder signs out (the clerk page is not theirs); the clerk signs in.
	run(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`button[data-holder="0"]`)))
	clerkSignIn(t, ctx, fh.Srv.URL)
	for _, f := range []string{ofdFile, pdfFile} {
		verdict, class := upload(f)
		if details := text(t, ctx, `.result`); !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") || !strings.Contains(class, "ok") ||
			!strings.Contains(details, fh.mine.ID) {
			t.Fatalf("uploaded %s: verdict %q class %q\n%s", filepath.Base(f), verdict, class, details)
		}
	}

	if _, err := fh.Certs.Lifecycle(context.Background(), certificates.Scope{}, fh.mine.ID, certificates.Revoke, "测试撤销"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ofdFile, pdfFile} {
		verdict, class := upload(f)
		if !strings.Contains(verdict, "无效") || !strings.Contains(verdict, "撤销") || !strings.Contains(class, "bad") {
			t.Fatalf("uploaded %s after revocation: verdict %q class %q", filepath.Base(f), verdict, class)
		}
	}
	testenv.Screenshot(t, ctx, "48-journey-revoked")
}
