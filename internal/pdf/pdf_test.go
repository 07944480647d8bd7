package pdf_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/layout"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/pdf"
	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

const (
	holder  = "杭州西湖龙井茶叶有限公司"
	number  = "JY23301060012345"
	issuer  = "91350100M000100Y43"
	baseURL = "https://certhub.example.gov.cn"
)

var identifier = certificates.Identifier{TypeCode: issuer + "001", Issuer: issuer, Serial: "000123", Version: 1}.String()

var (
	fontOnce sync.Once
	font     *pdf.Font
	fontErr  error
)

// testFont is the installed CJK font, parsed once for all tests.
func testFont(t testing.TB) *pdf.Font {
	t.Helper()
	path, err := ofd.FindFont(os.Getenv(ofd.FontEnv))
	if err != nil {
		testenv.Unavailable(t, "a CJK TrueType font", err.Error())
	}
	fontOnce.Do(func() { font, fontErr = pdf.LoadFont(path) })
	if fontErr != nil {
		t.Fatal(fontErr)
	}
	return font
}

// testCA is a P-256 seal CA root and an ES256 seal key certified by it,
// made the way the hub's seal CA makes them.
type testCA struct {
	root  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootDER, err := signing.NewCARoot(rootKey, "certhub test", now)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := signing.IssueSealCert(rootDER, rootKey, leafKey.Public(), signing.SealSubject{Name: "杭州市市场监督管理局", USCC: issuer}, now)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{root: root, key: leafKey, chain: []*x509.Certificate{leaf, root}}
}

// sealPNG is a red ring with a star-like dot, on a transparent ground, as
// a seal picture is.
func sealPNG(t testing.TB) []byte {
	t.Helper()
	const n = 240
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	red := color.NRGBA{R: 220, G: 20, B: 30, A: 255}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			d := math.Hypot(float64(x-n/2), float64(y-n/2))
			// ring and centre dot
			if (d > n/2-14 && d < n/2-2) || d < 24 {
				img.Set(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func verifyURL() string { return baseURL + "/verify?id=" + identifier }

// licence is a one-page A4 licence as a template would lay it out.
func licence(t testing.TB, watermark string) layout.Page {
	t.Helper()
	code, err := qr.PNG(verifyURL(), 8)
	if err != nil {
		t.Fatal(err)
	}
	p := layout.Page{WidthMM: 210, HeightMM: 297, Watermark: watermark,
		Texts: []layout.Text{
			{X: 20, Y: 30, W: 170, H: 16, SizeMM: 12, Text: "食品经营许可证", Bold: true, Align: layout.Center},
			{X: 25, Y: 70, W: 40, H: 8, SizeMM: 5, Text: "经营者名称", Align: layout.Left},
			{X: 70, Y: 70, W: 115, H: 8, SizeMM: 5, Text: holder, Align: layout.Left},
			{X: 25, Y: 85, W: 40, H: 8, SizeMM: 5, Text: "许可证编号", Align: layout.Left},
			{X: 70, Y: 85, W: 115, H: 8, SizeMM: 5, Text: number, Align: layout.Left},
			{X: 25, Y: 100, W: 40, H: 8, SizeMM: 5, Text: "有效期至", Align: layout.Left},
			{X: 70, Y: 100, W: 115, H: 8, SizeMM: 5, Text: "2031年12月1日", Align: layout.Left},
			{X: 100, Y: 210, W: 85, H: 8, SizeMM: 5, Text: "杭州市市场监督管理局", Align: layout.Right},
			{X: 100, Y: 220, W: 85, H: 8, SizeMM: 5, Text: "2026年12月2日", Align: layout.Right},
			{X: 10, Y: 280, W: 190, H: 6, SizeMM: 3, Text: "证照标识 " + identifier, Align: layout.Center},
		},
		Images: []layout.Image{
			{X: 125, Y: 190, W: 40, H: 40, PNG: sealPNG(t), Role: layout.Seal},
			{X: 25, Y: 225, W: 40, H: 40, PNG: code, Role: layout.QR},
		},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func document(t testing.TB, key crypto.Signer, chain []*x509.Certificate, watermark string) pdf.Document {
	t.Helper()
	return pdf.Document{LicenceID: identifier, Title: "食品经营许可证", Author: "杭州市市场监督管理局", Created: time.Now(),
		Pages: []layout.Page{licence(t, watermark)}, Font: testFont(t),
		Signer: pdf.Signer{Key: key, Chain: chain, Reason: "电子证照签发", Location: "杭州"}}
}

func write(t testing.TB, doc pdf.Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pdf.Write(&b, doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// nssDB is a fresh NSS database trusting root for pdfsig.
func nssDB(t *testing.T, root *x509.Certificate) string {
	t.Helper()
	certutil := testenv.Tool(t, "certutil", "apt-get install libnss3-tools")
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, signing.CertPEM(root.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "nss")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, certutil, "-N", "-d", "sql:"+db, "--empty-password")
	run(t, certutil, "-A", "-d", "sql:"+db, "-n", "certhub seal CA", "-t", "C,C,C", "-i", rootPEM)
	return db
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// pdfsig runs poppler's pdfsig, which exits 0 whatever it finds: callers
// assert its output.
func pdfsig(t *testing.T, db string, data []byte) string {
	t.Helper()
	bin := testenv.Tool(t, "pdfsig", "apt-get install poppler-utils")
	f := filepath.Join(t.TempDir(), "licence.pdf")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "-nssdir", "sql:"+db, f).CombinedOutput()
	return string(out)
}

func saveFile(t *testing.T, data []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "licence.pdf")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkSigned asserts what pdfsig says of a good file.
func checkSigned(t *testing.T, root *x509.Certificate, data []byte) {
	t.Helper()
	out := pdfsig(t, nssDB(t, root), data)
	for _, want := range []string{"Signature is Valid.", "Total document signed", "Certificate is Trusted", "adbe.pkcs7.detached"} {
		if !strings.Contains(out, want) {
			t.Errorf("pdfsig does not say %q:\n%s", want, out)
		}
	}
}

// TestWriteCheckedByPoppler writes a licence and has independent tools
// check it: poppler's pdfsig (signature over the whole file, certificate
// trusted through the seal CA root in an NSS database), pdftotext,
// pdffonts, pdfinfo, pdftoppm + zbarimg for the QR code, and qpdf.
func TestWriteCheckedByPoppler(t *testing.T) {
	ca := newTestCA(t)
	data := write(t, document(t, ca.key, ca.chain, ""))
	if len(data) >= 300<<10 {
		t.Errorf("a one-page licence is %d bytes, want under 300 KB", len(data))
	}
	checkSigned(t, ca.root, data)
	f := saveFile(t, data)

	text := run(t, testenv.Tool(t, "pdftotext", "apt-get install poppler-utils"), f, "-")
	for _, want := range []string{holder, number, identifier, "食品经营许可证"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext does not find %q:\n%s", want, text)
		}
	}

	fonts := run(t, testenv.Tool(t, "pdffonts", "apt-get install poppler-utils"), f)
	lines := strings.Split(strings.TrimSpace(fonts), "\n")
	if len(lines) != 3 {
		t.Fatalf("pdffonts: want one font:\n%s", fonts)
	}
	// name type encoding emb sub uni object ID
	cols := strings.Fields(lines[2])
	if len(cols) < 7 || !strings.Contains(cols[0], "+") || cols[len(cols)-5] != "yes" || cols[len(cols)-4] != "yes" {
		t.Errorf("pdffonts: want the font embedded as a subset (emb yes, sub yes, name with a tag+):\n%s", fonts)
	}

	info := run(t, testenv.Tool(t, "pdfinfo", "apt-get install poppler-utils"), f)
	if !regexp.MustCompile(`(?m)^Subject:\s+` + regexp.QuoteMeta(identifier) + `$`).MatchString(info) {
		t.Errorf("pdfinfo: Subject is not the identifier:\n%s", info)
	}
	custom := run(t, testenv.Tool(t, "pdfinfo", "apt-get install poppler-utils"), "-custom", f)
	if !strings.Contains(custom, "licenceId:") || !strings.Contains(custom, identifier) {
		t.Errorf("pdfinfo -custom: no licenceId entry with the identifier:\n%s", custom)
	}
	if !regexp.MustCompile(`(?m)^Page size:\s+595\.2\d* x 841\.89 pts \(A4\)`).MatchString(info) {
		t.Errorf("pdfinfo: want an A4 page:\n%s", info)
	}

	dir := t.TempDir()
	run(t, testenv.Tool(t, "pdftoppm", "apt-get install poppler-utils"), "-r", "150", "-png", "-singlefile", f, filepath.Join(dir, "page"))
	page := filepath.Join(dir, "page.png")
	got := strings.TrimSpace(run(t, testenv.Tool(t, "zbarimg", "apt-get install zbar-tools"), "--raw", "-q", page))
	if got != verifyURL() {
		t.Errorf("zbarimg reads %q, want %q", got, verifyURL())
	}
	if a := os.Getenv("CERTHUB_ARTIFACTS"); a != "" {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(a, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a, "40-licence-pdf.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if q, err := exec.LookPath("qpdf"); err == nil {
		out, err := exec.Command(q, "--check", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors found") {
			t.Errorf("qpdf --check: %v\n%s", err, out)
		}
	} else {
		testenv.Unavailable(t, "qpdf", "not installed (apt-get install qpdf)")
	}
}

// TestWatermarkedCopy is an annotated copy: the watermark is printed on
// the page, and the signature covers it.
func TestWatermarkedCopy(t *testing.T) {
	ca := newTestCA(t)
	const mark = "仅用于办理银行开户，有效期至2027年1月31日"
	data := write(t, document(t, ca.key, ca.chain, mark))
	checkSigned(t, ca.root, data)
	// -raw: in content-stream order, as the rotated watermark was drawn.
	text := run(t, testenv.Tool(t, "pdftotext", "apt-get install poppler-utils"), "-raw", saveFile(t, data), "-")
	if strings.Count(strings.Join(strings.Fields(text), ""), mark) != 3 {
		t.Errorf("pdftotext does not find the watermark:\n%s", text)
	}
	if a := os.Getenv("CERTHUB_ARTIFACTS"); a != "" {
		dir := t.TempDir()
		f := saveFile(t, data)
		run(t, testenv.Tool(t, "pdftoppm", "apt-get install poppler-utils"), "-r", "100", "-png", "-singlefile", f, filepath.Join(dir, "page"))
		b, err := os.ReadFile(filepath.Join(dir, "page.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a, "41-licence-pdf-annotated.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTamperedPDF: pdfsig notices bytes added after the signature, a byte
// changed inside the signed range, and a root it was not told to trust.
func TestTamperedPDF(t *testing.T) {
	ca := newTestCA(t)
	data := write(t, document(t, ca.key, ca.chain, ""))
	db := nssDB(t, ca.root)

	appended := append(append([]byte(nil), data...), "\n% appended after signing\n"...)
	if out := pdfsig(t, db, appended); strings.Contains(out, "Total document signed") || !strings.Contains(out, "Signature #1") {
		t.Errorf("appended bytes: pdfsig still says the whole document is signed:\n%s", out)
	}

	// The page's content is compressed; the identifier in the document
	// information (inside the signed range) is not: change one hex digit.
	j := bytes.Index(data, []byte("/Subject <FEFF"))
	if j < 0 {
		t.Fatal("no Subject entry")
	}
	altered := append([]byte(nil), data...)
	altered[j+len("/Subject <FEFF")+3] ^= 1 // one hex digit of the identifier in the info
	if out := pdfsig(t, db, altered); strings.Contains(out, "Signature is Valid.") || !strings.Contains(out, "Digest Mismatch") {
		t.Errorf("altered identifier: want a digest mismatch from pdfsig:\n%s", out)
	}

	other := newTestCA(t)
	if out := pdfsig(t, nssDB(t, other.root), data); strings.Contains(out, "Certificate is Trusted") || !strings.Contains(out, "Signature is Valid.") {
		t.Errorf("untrusted root: want a valid signature by an untrusted certificate:\n%s", out)
	}
}

// TestHubPDFSigner signs with what a running hub holds: an authority's
// ES256 seal key behind signing.Manager.PDFSigner, certified by the hub's
// P-256 seal CA root, which pdfsig is given to trust.
func TestHubPDFSigner(t *testing.T) {
	h := hubtest.New(t)
	ctx := context.Background()
	if err := h.Certs.CreateAuthority(ctx, &certificates.Authority{Code: issuer, Name: "杭州市市场监督管理局"}, "ES256"); err != nil {
		t.Fatal(err)
	}
	key, chain, err := h.Certs.Keys.PDFSigner(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || chain[0].Subject.SerialNumber != issuer {
		t.Fatalf("chain: want the seal certificate naming %s and its root, got %d certificates", issuer, len(chain))
	}
	roots, err := h.Certs.Keys.CARoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var root *x509.Certificate
	for _, r := range roots {
		if r.Family == "P-256" {
			if root, err = x509.ParseCertificate(r.Certificate); err != nil {
				t.Fatal(err)
			}
		}
	}
	if root == nil {
		t.Fatal("the hub has no P-256 seal CA root")
	}
	checkSigned(t, root, write(t, document(t, key, chain, "")))

	// An authority whose only key is SM2 cannot sign a PDF: 409 saying what to add.
	sm2Only := "11330102MB000000" + "9"
	sm2Only += string(certificates.USCCCheck(sm2Only))
	if err := h.Certs.CreateAuthority(ctx, &certificates.Authority{Code: sm2Only, Name: "杭州市民政局"}, "SM2"); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Certs.Keys.PDFSigner(ctx, sm2Only)
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "ES256") {
		t.Errorf("SM2-only authority: want a conflict naming ES256, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	ca := newTestCA(t)
	good := document(t, ca.key, ca.chain, "")
	for _, tc := range []struct {
		name  string
		edit  func(d *pdf.Document)
		field string
	}{
		{"no identifier", func(d *pdf.Document) { d.LicenceID = "" }, "licence_id"},
		{"no pages", func(d *pdf.Document) { d.Pages = nil }, "pages"},
		{"box off the page", func(d *pdf.Document) {
			d.Pages = []layout.Page{{WidthMM: 210, HeightMM: 297, Texts: []layout.Text{{X: 200, Y: 10, W: 20, H: 5, SizeMM: 4, Text: "x"}}}}
		}, "pages[0]"},
		{"no font", func(d *pdf.Document) { d.Font = nil }, "font"},
		{"no signer", func(d *pdf.Document) { d.Signer = pdf.Signer{} }, "signer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			tc.edit(&d)
			var b bytes.Buffer
			err := pdf.Write(&b, d)
			var e *errs.Error
			if !errs.Is(err, errs.Invalid) || !asError(err, &e) || !hasField(e, tc.field) {
				t.Fatalf("want invalid naming %s, got %v", tc.field, err)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes for an invalid document", b.Len())
			}
		})
	}
}

// TestLoadFont: a file the writer cannot embed is refused as invalid,
// naming the font, and nothing is looked up in its place (the lookup is
// ofd.FindFont's alone).
func TestLoadFont(t *testing.T) {
	dir := t.TempDir()
	ttf := filepath.Join(dir, "font.ttf")
	if err := os.WriteFile(ttf, []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"not a font": ttf,
		"missing":    filepath.Join(dir, "absent.ttf"),
		"collection": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
		"directory":  dir,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pdf.LoadFont(path)
			var e *errs.Error
			if !asError(err, &e) {
				t.Fatalf("want an *errs.Error, got %v", err)
			}
			if name == "not a font" || name == "collection" {
				if !hasField(e, "font") {
					t.Errorf("want invalid naming font, got %v", err)
				}
			} else if err == nil {
				t.Error("want an error")
			}
		})
	}
}

func asError(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	if ok {
		*e = x
	}
	return ok
}

func hasField(e *errs.Error, field string) bool {
	if e.Field == field {
		return true
	}
	for _, f := range e.Fields {
		if f.Field == field || strings.HasPrefix(f.Field, field+".") || strings.HasPrefix(f.Field, field+"[") {
			return true
		}
	}
	return false
}

// BenchmarkWritePDF renders and signs a one-page licence (the font parsed
// once, as a hub does at start).
func BenchmarkWritePDF(b *testing.B) {
	ca := newTestCA(b)
	doc := document(b, ca.key, ca.chain, "")
	var size int
	b.ReportAllocs()
	for b.Loop() {
		var w bytes.Buffer
		if err := pdf.Write(&w, doc); err != nil {
			b.Fatal(err)
		}
		size = w.Len()
	}
	b.ReportMetric(float64(size), "bytes/file")
}

// TestConcurrentWrites shares one parsed Font between documents written at
// once, as a hub serving downloads does; each file still carries its own
// subset and verifies (run with -race).
func TestConcurrentWrites(t *testing.T) {
	ca := newTestCA(t)
	docs := []pdf.Document{document(t, ca.key, ca.chain, ""), document(t, ca.key, ca.chain, "仅用于测试")}
	out := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			if err := pdf.Write(&b, docs[i%2]); err != nil {
				t.Error(err)
			}
			out[i] = b.Bytes()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	db := nssDB(t, ca.root)
	for i, data := range out {
		if s := pdfsig(t, db, data); !strings.Contains(s, "Signature is Valid.") {
			t.Errorf("file %d: %s", i, s)
		}
	}
	// The watermark's glyphs went into the second document's subset only.
	if len(out[1]) <= len(out[0]) {
		t.Errorf("the watermarked copy (%d bytes) is not larger than the plain one (%d)", len(out[1]), len(out[0]))
	}
}
