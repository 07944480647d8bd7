package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Artifacts is where browser tests leave their screenshots
// (CERTHUB_ARTIFACTS, else artifacts/screenshots at the repository root,
// for a test two levels down).
func Artifacts(t testing.TB) string {
	dir := os.Getenv("CERTHUB_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Chromium finds Debian's Chromium (CERTHUB_CHROMIUM overrides); in CI it
// must be there, elsewhere the test is skipped without it.
func Chromium(t testing.TB) string {
	for _, p := range []string{os.Getenv("CERTHUB_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := exec.LookPath(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is required in CI (Debian package chromium)")
	}
	t.Skip("Chromium not installed (apt-get install chromium); browser tests skipped")
	return ""
}

// Browser starts headless Chromium (zh-CN); fakeVideo, if set, is a Y4M
// file the fake camera plays.
func Browser(t testing.TB, fakeVideo string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("lang", "zh-CN"), chromedp.Flag("accept-lang", "zh-CN,zh"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 1600),
	}
	if fakeVideo != "" {
		opts = append(opts, chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-fake-ui-for-media-stream", true),
			chromedp.Flag("use-file-for-fake-video-capture", fakeVideo))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// Screenshot saves a full-page screenshot as <name>.png in Artifacts.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(Artifacts(t), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// emulateNetworkConditions is Network.emulateNetworkConditions, deprecated
// in the protocol but still what switches navigator.onLine for good.
var emulateNetworkConditions = cdp.Command[emulateNetworkConditionsParams, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

type emulateNetworkConditionsParams struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

// Offline switches the page and its service worker off the network and
// navigator.onLine to false, as the DevTools "Offline" switch does: it sets
// the conditions on every target, the service worker's too (whose fetches
// the page's conditions do not cover).
func Offline(t testing.TB, ctx context.Context, off bool) {
	t.Helper()
	conditions := func(ctx context.Context) error {
		// The older command (what the DevTools switch sends) also sets
		// navigator.onLine, for good across navigations, so it goes first:
		// nothing sees "online" once requests fail.
		if _, err := chromedp.Call(ctx, emulateNetworkConditions, emulateNetworkConditionsParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &off,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}},
		})
		return err
	}
	if err := conditions(ctx); err != nil {
		t.Fatal(err)
	}
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	workers := 0
	for _, ti := range targets {
		if ti.Type != "service_worker" {
			continue
		}
		wctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(ti.TargetID))
		t.Cleanup(cancel)
		if err := conditions(wctx); err != nil {
			t.Fatalf("service worker %s: %v", ti.URL, err)
		}
		workers++
	}
	if workers == 0 {
		t.Fatal("no service worker target to take offline")
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
}

// WaitJS polls a JavaScript condition (30 s at most).
func WaitJS(t testing.TB, ctx context.Context, what, js string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("waiting for %s: %v\npage: %.3000s", what, err, html)
		}
	}
}
