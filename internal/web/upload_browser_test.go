package web_test

import (
	"context"
	"github.com/certhub/certhub/internal/testenv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/licencefile"
)

// TestBrowserVerifyUploadedFile: a clerk uploads a licence PDF, then its
// OFD, on /verify and sees 有效 and the form; after the certificate is revoked the same
// file says 无效 and 已撤销; a file that is no licence says why.
func TestBrowserVerifyUploadedFile(t *testing.T) {
	h, _ := demoHub(t)
	ctx := context.Background()
	res, err := h.Certs.Issue(ctx, certificates.Scope{}, demo.NewGenerator(9, h.Certs.Today()).Property(demo.NewPerson(rand.New(rand.NewPCG(3, 4)), 4343)), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := h.Pages.Files.Make(ctx, res.Certificate, licencefile.PDF, licencefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o, err := h.Pages.Files.Make(ctx, res.Certificate, licencefile.OFD, licencefile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdfFile, ofdFile := filepath.Join(dir, f.Name), filepath.Join(dir, o.Name)
	for path, data := range map[string][]byte{pdfFile: f.Data, ofdFile: o.Data} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bc := testenv.Browser(t, "")
	upload := func(path string) (verdict, class string) {
		t.Helper()
		run(t, bc, chromedp.Navigate(h.Srv.URL+"/verify"), chromedp.WaitVisible(chromedp.CSS(`#licence-file`)),
			chromedp.SetUploadFiles(chromedp.CSS(`#licence-file`), []string{path}), chromedp.Click(chromedp.CSS(`#file-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
		return text(t, bc, `#verdict`), attr(t, bc, `#verdict`, "class")
	}

	clerkSignIn(t, bc, h.Srv.URL)
	verdict, class := upload(pdfFile)
	details := text(t, bc, `.result`)
	testenv.Screenshot(t, bc, "43-verify-upload")
	if !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") || !strings.Contains(class, "ok") ||
		!strings.Contains(details, res.Certificate.ID) || !strings.Contains(details, "PDF") {
		t.Fatalf("uploaded PDF: verdict %q class %q\n%s", verdict, class, details)
	}
	verdict, class = upload(ofdFile)
	if details := text(t, bc, `.result`); !strings.Contains(verdict, "有效") || strings.Contains(verdict, "无效") || !strings.Contains(class, "ok") || !strings.Contains(details, "OFD") {
		t.Fatalf("uploaded OFD: verdict %q class %q\n%s", verdict, class, details)
	}

	if _, err := h.Certs.Lifecycle(ctx, certificates.Scope{}, res.Certificate.ID, certificates.Revoke, "测试撤销"); err != nil {
		t.Fatal(err)
	}
	verdict, class = upload(pdfFile)
	testenv.Screenshot(t, bc, "46-verify-upload-revoked")
	if !strings.Contains(verdict, "无效") || !strings.Contains(verdict, "撤销") || !strings.Contains(class, "bad") {
		t.Fatalf("uploaded PDF after revocation: verdict %q class %q", verdict, class)
	}

	// Each file check is in the holder's access history, with its outcome.
	entries, err := h.Ledger.Store.HolderAudit(ctx, res.Certificate.HolderIndex, 100)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range entries {
		if e.Action == "clerk_verify" && slices.Contains(e.Certificates, res.Certificate.ID) {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if len(outcomes) != 3 || !slices.Contains(outcomes, "invalid: r_revoked") {
		t.Fatalf("clerk_verify entries = %q, want 3 (valid, valid, invalid: r_revoked)", outcomes)
	}

	notLicence := filepath.Join(dir, "notes.pdf")
	_ = os.WriteFile(notLicence, []byte("just some notes"), 0o644)
	verdict, _ = upload(notLicence)
	if !strings.Contains(verdict, "无法读取文件") || !strings.Contains(verdict, "not an OFD or PDF") {
		t.Fatalf("not a licence file: %q", verdict)
	}
}
