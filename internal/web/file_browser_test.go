package web_test

import (
	"bytes"
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestBrowserWalletDownloads: in the wallet, each certificate offers 下载
// OFD and 下载 PDF; clicking 下载 PDF downloads the signed PDF (Chromium
// saves it; it starts with %PDF-) and leaves the wallet on screen.
func TestBrowserWalletDownloads(t *testing.T) {
	fh := newFileHub(t)
	ctx := testenv.Browser(t, "")
	dir := t.TempDir()
	run(t, ctx,
		chromedp.Navigate(fh.Srv.URL+"/wallet"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.Click(chromedp.CSS(`button[data-holder="0"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#cert-`+cssID(fh.mine.ID)+` a.download-pdf`)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			events := true
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events})
			return err
		}),
	)
	if got := text(t, ctx, `#cert-`+cssID(fh.mine.ID)+` .downloads`); !bytes.Contains([]byte(got), []byte("下载 OFD")) || !bytes.Contains([]byte(got), []byte("下载 PDF")) {
		t.Fatalf("download links read %q", got)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(wait, cdpbrowser.DownloadProgress)
	run(t, ctx, chromedp.Click(chromedp.CSS(`#cert-`+cssID(fh.mine.ID)+` a.download-pdf`)))
	var saved string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			saved = filepath.Join(dir, ev.GUID)
			break
		}
	}
	data, err := os.ReadFile(saved)
	if err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) || len(data) < 1000 {
		t.Fatalf("downloaded %s: %d bytes, %v", saved, len(data), err)
	}
	// The download did not replace the wallet.
	run(t, ctx, chromedp.WaitVisible(chromedp.CSS(`li.cert a.download-ofd`)))
	testenv.Screenshot(t, ctx, "44-wallet-downloads")
}

// cssID escapes a certificate identifier (dots) for an id selector.
func cssID(id string) string {
	var b []byte
	for i := 0; i < len(id); i++ {
		if id[i] == '.' {
			b = append(b, '\\')
		}
		b = append(b, id[i])
	}
	return string(b)
}
