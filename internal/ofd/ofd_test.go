package ofd_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/layout"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/sestest"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

const (
	authorityCode = "11330100MB0000001R"
	authorityName = "杭州市市场监督管理局"
	holderName    = "张三丰"
	licenceNumber = "浙食经字（2026）第330100-00042号"
	licenceID     = "1.2.156.3005.2.11330100MB0000001R.330100-00042.001"
)

// font returns the CJK TrueType font of the machine, or skips (fails in CI).
func font(t testing.TB) *ofd.Font {
	t.Helper()
	p, err := ofd.FindFont(os.Getenv(ofd.FontEnv))
	if err != nil {
		testenv.Unavailable(t, "a CJK TrueType font", err.Error())
	}
	f, err := ofd.LoadFont(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// qrPNG is a stand-in QR code: a black and white module pattern.
func qrPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 100, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 100; x++ {
			if (x/4+y/4)%3 == 0 {
				img.SetGray(x, y, color.Gray{})
			} else {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// licencePage is a one-page A4 licence with Chinese text, a seal and a QR.
func licencePage(t testing.TB, watermark string) layout.Page {
	t.Helper()
	return layout.Page{
		WidthMM: layout.A4Portrait[0], HeightMM: layout.A4Portrait[1],
		Texts: []layout.Text{
			{X: 20, Y: 30, W: 170, H: 14, SizeMM: 10, Text: "食品经营许可证", Bold: true, Align: layout.Center},
			{X: 20, Y: 60, W: 40, H: 8, SizeMM: 5, Text: "经营者名称", Align: layout.Right},
			{X: 65, Y: 60, W: 120, H: 8, SizeMM: 5, Text: holderName},
			{X: 20, Y: 72, W: 40, H: 8, SizeMM: 5, Text: "许可证编号", Align: layout.Right},
			{X: 65, Y: 72, W: 120, H: 8, SizeMM: 5, Text: licenceNumber},
			{X: 20, Y: 84, W: 40, H: 8, SizeMM: 5, Text: "有效期至", Align: layout.Right},
			{X: 65, Y: 84, W: 120, H: 8, SizeMM: 5, Text: "2031-12-31 <&\"'>"},
			{X: 110, Y: 240, W: 80, H: 8, SizeMM: 5, Text: authorityName, Align: layout.Center},
			{X: 110, Y: 250, W: 80, H: 8, SizeMM: 5, Text: "2026年12月2日", Align: layout.Center},
		},
		Images: []layout.Image{
			{X: 130, Y: 224, W: 40, H: 40, PNG: sestest.PNG(t), Role: layout.Seal},
			{X: 20, Y: 230, W: 30, H: 30, PNG: qrPNG(t), Role: layout.QR},
		},
		Watermark: watermark,
	}
}

// sealedHub is a hub with an SM2 authority whose electronic seal seals.
func sealedHub(t testing.TB) *hubtest.Hub {
	t.Helper()
	h := hubtest.New(t)
	if err := h.Certs.CreateAuthority(context.Background(), &certificates.Authority{Code: authorityCode, Name: authorityName}, "SM2"); err != nil {
		t.Fatal(err)
	}
	return h
}

func document(t testing.TB, h *hubtest.Hub, f *ofd.Font, watermark string) ofd.Document {
	t.Helper()
	return ofd.Document{
		LicenceID: licenceID, Title: "食品经营许可证", Created: h.Clock.Now(), Font: f,
		Pages: []layout.Page{licencePage(t, watermark)},
		Sealer: func(sig []byte) ([]byte, error) {
			return h.Certs.ESeal(context.Background(), authorityCode, sig, ofd.PropertyInfo)
		},
	}
}

func write(t testing.TB, doc ofd.Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ofd.Write(&b, doc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func verifier(h *hubtest.Hub) ofd.VerifySES {
	return func(ses, data []byte) (*signing.SESReport, error) {
		return h.Certs.Keys.VerifySealedBytes(context.Background(), ses, data)
	}
}

// unpack writes the package to a directory with unzip and returns it.
func unpack(t *testing.T, pkg []byte) (dir, file string) {
	t.Helper()
	unzip := testenv.Tool(t, "unzip", "Debian package unzip")
	dir = t.TempDir()
	file = filepath.Join(dir, "licence.ofd")
	if err := os.WriteFile(file, pkg, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unzip, "-t", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	if out, err := exec.Command(unzip, "-q", file, "-d", filepath.Join(dir, "x")).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	return filepath.Join(dir, "x"), file
}

// opensslSM3 is base64(SM3(file)) by OpenSSL.
func opensslSM3(t *testing.T, path string) string {
	t.Helper()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl")
	out, err := exec.Command(openssl, "dgst", "-sm3", "-binary", path).Output()
	if err != nil {
		t.Fatalf("openssl dgst -sm3 %s: %v", path, err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

type reference struct {
	FileRef    string `xml:"FileRef,attr"`
	CheckValue string `xml:"CheckValue"`
}

func references(t *testing.T, sigXML []byte) []reference {
	t.Helper()
	var sig struct {
		Refs []reference `xml:"SignedInfo>References>Reference"`
	}
	if err := xml.Unmarshal(sigXML, &sig); err != nil {
		t.Fatal(err)
	}
	return sig.Refs
}

// TestWriteCheckedByIndependentTools writes and seals a licence and checks
// it with tools that are not ours: unzip, xmllint, OpenSSL's SM3 for every
// reference, OpenSSL's SM2 for the signer's and the seal maker's
// signatures and for the data hash.
func TestWriteCheckedByIndependentTools(t *testing.T) {
	h := sealedHub(t)
	pkg := write(t, document(t, h, font(t), "仅用于办理银行开户，有效期至2027-01-31"))
	dir, _ := unpack(t, pkg)

	// Every XML file is well-formed, says xmllint.
	xmllint := testenv.Tool(t, "xmllint", "Debian package libxml2-utils")
	var all []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			all = append(all, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(all)
	xmls := 0
	for _, f := range all {
		if strings.HasSuffix(f, ".xml") {
			xmls++
			if out, err := exec.Command(xmllint, "--noout", filepath.Join(dir, f)).CombinedOutput(); err != nil {
				t.Errorf("xmllint %s: %v\n%s", f, err, out)
			}
		}
	}
	if xmls != 7 {
		t.Errorf("%d XML files, want 7: %v", xmls, all)
	}

	// Every reference's CheckValue is OpenSSL's SM3 of the file, and every
	// file but the signature's own is referenced.
	sigXML, err := os.ReadFile(filepath.Join(dir, ofd.SignaturePath))
	if err != nil {
		t.Fatal(err)
	}
	refs := references(t, sigXML)
	seen := map[string]bool{}
	for _, r := range refs {
		name := strings.TrimPrefix(r.FileRef, "/")
		seen[name] = true
		if got := opensslSM3(t, filepath.Join(dir, name)); got != r.CheckValue {
			t.Errorf("%s: OpenSSL SM3 %s, reference %s", name, got, r.CheckValue)
		}
	}
	for _, f := range all {
		own := f == ofd.SignaturesPath || strings.HasPrefix(f, "Doc_0/Signs/Sign_0/")
		if seen[f] == own {
			t.Errorf("%s: referenced=%v", f, seen[f])
		}
	}

	// The SES_Signature: OpenSSL verifies the signer's signature over
	// TBS_Sign and the maker's over SES_SealInfo, and its dataHash is
	// OpenSSL's SM3 of Signature.xml. Seal.esl is the seal inside it.
	ses, err := os.ReadFile(filepath.Join(dir, ofd.SignedValuePath))
	if err != nil {
		t.Fatal(err)
	}
	var sig signing.SESSignature
	if rest, err := asn1.Unmarshal(ses, &sig); err != nil || len(rest) != 0 {
		t.Fatalf("SignedValue.dat is no DER SES_Signature: %v", err)
	}
	if out, ok := sestest.OpenSSLVerify(t, sig.Cert, sig.ToSign.Raw, sig.Signature.Bytes); !ok {
		t.Errorf("OpenSSL refused the TBS signature:\n%s", out)
	}
	seal := sig.ToSign.ESeal
	if out, ok := sestest.OpenSSLVerify(t, seal.Cert, seal.SealInfo.Raw, seal.SignedValue.Bytes); !ok {
		t.Errorf("OpenSSL refused the seal maker's signature:\n%s", out)
	}
	if got, want := base64.StdEncoding.EncodeToString(sig.ToSign.DataHash.Bytes), opensslSM3(t, filepath.Join(dir, ofd.SignaturePath)); got != want {
		t.Errorf("dataHash %s, OpenSSL's SM3 of Signature.xml %s", got, want)
	}
	if sig.ToSign.PropertyInfo != ofd.PropertyInfo {
		t.Errorf("propertyInfo %q, want %q", sig.ToSign.PropertyInfo, ofd.PropertyInfo)
	}
	esl, err := os.ReadFile(filepath.Join(dir, ofd.SealPath))
	if err != nil || !bytes.Equal(esl, seal.Raw) {
		t.Errorf("Seal.esl is not the SESeal of the signature (%v)", err)
	}

	// The text: the holder, the licence number, escaped markup and the
	// watermark; the identifier in OFD.xml; the stamp where the seal is.
	content, err := os.ReadFile(filepath.Join(dir, "Doc_0/Pages/Page_0/Content.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Text []string `xml:"Content>Layer>TextObject>TextCode"`
	}
	if err := xml.Unmarshal(content, &page); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(page.Text, "\n")
	for _, want := range []string{holderName, licenceNumber, "2031-12-31 <&\"'>", "仅用于办理银行开户"} {
		if !strings.Contains(text, want) {
			t.Errorf("Content.xml text lacks %q:\n%s", want, text)
		}
	}
	entry, _ := os.ReadFile(filepath.Join(dir, ofd.EntryPath))
	if !bytes.Contains(entry, []byte(`<ofd:CustomData Name="licenceId">`+licenceID+`</ofd:CustomData>`)) {
		t.Errorf("OFD.xml lacks the licence id:\n%s", entry)
	}
	if !bytes.Contains(sigXML, []byte(`Boundary="130 224 40 40"`)) {
		t.Errorf("StampAnnot is not in the seal's box:\n%s", sigXML)
	}

	// Altering one byte of Content.xml: OpenSSL's digest no longer matches.
	content[len(content)/2] ^= 0x01
	if err := os.WriteFile(filepath.Join(dir, "Doc_0/Pages/Page_0/Content.xml"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if r.FileRef == "/Doc_0/Pages/Page_0/Content.xml" && opensslSM3(t, filepath.Join(dir, "Doc_0/Pages/Page_0/Content.xml")) == r.CheckValue {
			t.Error("OpenSSL's digest of the altered Content.xml still matches its reference")
		}
	}
	t.Logf("package %d bytes, %d files", len(pkg), len(all))
}

// entries reads a package into names and contents, in order.
func entries(t *testing.T, pkg []byte) ([]string, map[string][]byte) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		files[f.Name] = b
	}
	return names, files
}

func rezip(t *testing.T, names []string, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, n := range names {
		w, err := z.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestVerify: a package as written verifies, with its licence id; each
// change to it is found and named.
func TestVerify(t *testing.T) {
	h := sealedHub(t)
	pkg := write(t, document(t, h, font(t), ""))
	rep, err := ofd.Verify(bytes.NewReader(pkg), int64(len(pkg)), verifier(h))
	if err != nil || !rep.Valid || rep.LicenceID != licenceID || rep.SES == nil || !rep.SES.Valid || rep.Files < 6 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if c := rep.SES.Check("trusted"); c == nil || !c.OK {
		t.Fatalf("the hub does not trust its own seal: %+v", rep.SES)
	}

	names, files := entries(t, pkg)
	for _, tc := range []struct {
		name   string
		change func(names []string, files map[string][]byte) []string
		want   string
	}{
		{"one byte of Content.xml", func(n []string, f map[string][]byte) []string {
			c := append([]byte(nil), f["Doc_0/Pages/Page_0/Content.xml"]...)
			c[len(c)/2] ^= 0x01
			f["Doc_0/Pages/Page_0/Content.xml"] = c
			return n
		}, "Doc_0/Pages/Page_0/Content.xml: SM3 digest does not match its reference"},
		{"the licence id", func(n []string, f map[string][]byte) []string {
			f[ofd.EntryPath] = bytes.Replace(f[ofd.EntryPath], []byte(licenceID), []byte("1.2.156.3005.2.forged"), 1)
			return n
		}, "OFD.xml: SM3 digest does not match its reference"},
		{"a file added", func(n []string, f map[string][]byte) []string {
			f["Doc_0/Res/extra.png"] = qrPNG(t)
			return append(n, "Doc_0/Res/extra.png")
		}, "Doc_0/Res/extra.png: not covered by the signature"},
		{"a file removed", func(n []string, f map[string][]byte) []string {
			var out []string
			for _, name := range n {
				if !strings.HasPrefix(name, "Doc_0/Res/image_") {
					out = append(out, name)
				}
			}
			return out
		}, "referenced in Doc_0/Signs/Sign_0/Signature.xml but not in the package"},
		{"Signature.xml", func(n []string, f map[string][]byte) []string {
			f[ofd.SignaturePath] = bytes.Replace(f[ofd.SignaturePath], []byte(`Boundary="130 224`), []byte(`Boundary="10 224`), 1)
			return n
		}, "Doc_0/Signs/Sign_0/SignedValue.dat: data-hash"},
		{"Seal.esl", func(n []string, f map[string][]byte) []string {
			f[ofd.SealPath] = append(append([]byte(nil), f[ofd.SealPath]...), 0)
			return n
		}, "Doc_0/Signs/Sign_0/Seal.esl: not the seal inside"},
		{"Seal.esl removed", func(n []string, f map[string][]byte) []string {
			var out []string
			for _, name := range n {
				if name != ofd.SealPath {
					out = append(out, name)
				}
			}
			return out
		}, "Doc_0/Signs/Sign_0/Seal.esl: the seal named in Doc_0/Signs/Sign_0/Signature.xml is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copied := map[string][]byte{}
			for k, v := range files {
				copied[k] = v
			}
			n := tc.change(append([]string(nil), names...), copied)
			bad := rezip(t, n, copied)
			rep, err := ofd.Verify(bytes.NewReader(bad), int64(len(bad)), verifier(h))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Valid || !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Fatalf("want a problem %q, got valid=%v %q", tc.want, rep.Valid, rep.Problems)
			}
		})
	}
}

// TestVerifyRefusesUnsafePackages: a zip bomb, unsafe paths and what is
// not a zip are refused before anything is checked.
func TestVerifyRefusesUnsafePackages(t *testing.T) {
	t.Parallel()
	noSES := func(ses, data []byte) (*signing.SESReport, error) {
		t.Fatal("verifySES called")
		return nil, nil
	}
	// zipOf zips count entries named name (with a number after the
	// first) of size zero bytes each.
	zipOf := func(name string, size, count int) []byte {
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		chunk := make([]byte, min(size, 1<<20))
		for i := 0; i < count; i++ {
			n := name
			if i > 0 {
				n = fmt.Sprintf("%s.%d", name, i)
			}
			w, err := z.Create(n)
			if err != nil {
				t.Fatal(err)
			}
			for done := 0; done < size; done += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		pkg  []byte
		want string
	}{
		{"zip bomb", zipOf("Doc_0/Res/font_1.ttf", 80<<20, 1), "unpacks to more than"},
		{"highly compressed", zipOf("OFD.xml", 8<<20, 1), "compressed"},
		{"many entries adding up", zipOf("Doc_0/Res/image", 1<<20, 65), "unpacks to more than"},
		{"too many entries", zipOf("Doc_0/Res/image", 1, ofd.MaxEntries+1), "over the limit"},
		{"parent directory", zipOf("../../etc/cron.d/x", 1, 1), "unsafe path"},
		{"parent inside", zipOf("Doc_0/../../x", 1, 1), "unsafe path"},
		{"absolute", zipOf("/etc/passwd", 1, 1), "unsafe path"},
		{"backslash", zipOf("..\\..\\x", 1, 1), "unsafe path"},
		{"not a zip", []byte("%PDF-1.7\n"), "not a zip"},
		{"no OFD.xml", zipOf("Doc_0/Document.xml", 1, 1), "OFD.xml is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ofd.Verify(bytes.NewReader(tc.pkg), int64(len(tc.pkg)), noSES)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an invalid-file error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

// TestWriteRefusesIncompleteDocuments: no sealer, no seal place, no font.
func TestWriteRefusesIncompleteDocuments(t *testing.T) {
	t.Parallel()
	page := licencePage(t, "")
	page.Images = page.Images[1:] // no seal
	err := ofd.Write(io.Discard, ofd.Document{LicenceID: licenceID, Pages: []layout.Page{page}})
	for _, want := range []string{"sealer", "font", "created", "no image with role seal"} {
		if !errs.Is(err, errs.Invalid) || !strings.Contains(fields(err), want) {
			t.Errorf("want %q among the problems, got %v", want, err)
		}
	}
}

// fields lists every problem of a validation error.
func fields(err error) string {
	var e *errs.Error
	if !errors.As(err, &e) {
		return ""
	}
	var b strings.Builder
	for _, f := range e.Fields {
		b.WriteString(f.Field + ": " + f.Reason + "\n")
	}
	return b.String()
}

// BenchmarkWriteOFD writes and seals a one-page licence.
func BenchmarkWriteOFD(b *testing.B) {
	h := sealedHub(b)
	doc := document(b, h, font(b), "")
	var buf bytes.Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := ofd.Write(&buf, doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/file")
}

// TestWriteSealingFails: an authority without an SM2 seal key cannot seal,
// the caller gets the conflict saying what to configure, and nothing is
// written: certhub writes no unsealed OFD. Nor one with characters the
// font cannot draw, or with what is not an SES_Signature as its seal.
func TestWriteSealingFails(t *testing.T) {
	h := sealedHub(t)
	const es256 = "11330100MB0000002W"
	if err := h.Certs.CreateAuthority(context.Background(), &certificates.Authority{Code: es256, Name: "杭州市规划和自然资源局"}, "ES256"); err != nil {
		t.Fatal(err)
	}
	doc := document(t, h, font(t), "")
	doc.Sealer = func(sig []byte) ([]byte, error) {
		return h.Certs.ESeal(context.Background(), es256, sig, ofd.PropertyInfo)
	}
	var b bytes.Buffer
	err := ofd.Write(&b, doc)
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "SM2") || b.Len() != 0 {
		t.Fatalf("want a conflict naming SM2 and nothing written, got %v and %d bytes", err, b.Len())
	}
	doc.Pages[0].Texts[1].Text = "名称\U0002A6A5\U0001F600"
	if err := ofd.Write(&b, doc); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "has no glyph for '\U0001F600'") || b.Len() != 0 {
		t.Fatalf("text the font cannot draw: %v, %d bytes", err, b.Len())
	}
	doc.Pages[0].Texts[1].Text = "名称"
	doc.Sealer = func(sig []byte) ([]byte, error) { return []byte("not DER"), nil }
	if err := ofd.Write(&b, doc); err == nil || b.Len() != 0 {
		t.Fatalf("a sealer returning no SES_Signature: %v, %d bytes", err, b.Len())
	}
}

// TestWriteSeveralPages: the seal is stamped on the page that has the seal
// image, and the package verifies.
func TestWriteSeveralPages(t *testing.T) {
	h := sealedHub(t)
	doc := document(t, h, font(t), "")
	first := licencePage(t, "")
	first.Images = first.Images[1:]
	card := layout.Page{WidthMM: layout.Card[0], HeightMM: layout.Card[1],
		Texts:  []layout.Text{{X: 5, Y: 5, W: 60, H: 6, SizeMM: 4, Text: holderName}},
		Images: []layout.Image{{X: 60, Y: 20, W: 20, H: 20, PNG: sestest.PNG(t), Role: layout.Seal}}}
	doc.Pages = []layout.Page{first, card}
	pkg := write(t, doc)
	rep, err := ofd.Verify(bytes.NewReader(pkg), int64(len(pkg)), verifier(h))
	if err != nil || !rep.Valid {
		t.Fatalf("report %+v, %v", rep, err)
	}
	_, files := entries(t, pkg)
	var document struct {
		Pages []struct {
			ID      string `xml:"ID,attr"`
			BaseLoc string `xml:"BaseLoc,attr"`
		} `xml:"Pages>Page"`
	}
	if err := xml.Unmarshal(files[ofd.DocumentPath], &document); err != nil || len(document.Pages) != 2 {
		t.Fatalf("Document.xml pages: %+v, %v", document.Pages, err)
	}
	want := `PageRef="` + document.Pages[1].ID + `" Boundary="60 20 20 20"`
	if !bytes.Contains(files[ofd.SignaturePath], []byte(want)) {
		t.Fatalf("Signature.xml lacks %s:\n%s", want, files[ofd.SignaturePath])
	}
	if !bytes.Contains(files["Doc_0/Pages/Page_1/Content.xml"], []byte("<ofd:PhysicalBox>0 0 85.6 54</ofd:PhysicalBox>")) {
		t.Fatal("the card page lacks its own size")
	}
}

// TestVerifyForeignSeal: a package sealed with a sound seal whose signer and
// maker the hub does not know verifies as signatures and is not valid: the
// report says the seal is not trusted.
func TestVerifyForeignSeal(t *testing.T) {
	h := sealedHub(t)
	now := h.Clock.Now()
	root := sestest.NewRoot(t, "elsewhere seal maker", now)
	signer := root.Issue(t, "elsewhere signer", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	seal, err := signing.MakeSeal(root.Key, root.Cert, signing.SealSpec{
		ESID: "elsewhere-1", Name: "某某局", SignerCerts: [][]byte{signer.Cert},
		Created: now, ValidStart: now.Add(-time.Hour), ValidEnd: now.AddDate(1, 0, 0),
		PNG: sestest.PNG(t), WidthMM: 40, HeightMM: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := document(t, h, font(t), "")
	doc.Sealer = func(sig []byte) ([]byte, error) {
		return signing.SignSES(signer.Key, signer.Cert, seal, sig, now, ofd.PropertyInfo)
	}
	pkg := write(t, doc)
	rep, err := ofd.Verify(bytes.NewReader(pkg), int64(len(pkg)), verifier(h))
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(rep.Problems, "\n")
	if rep.Valid || !strings.Contains(problems, "SignedValue.dat: trusted:") || rep.SES.Check(signing.SESCheckSignature) == nil || !rep.SES.Check(signing.SESCheckSignature).OK {
		t.Fatalf("want an untrusted but sound seal, got valid=%v %q", rep.Valid, rep.Problems)
	}
}
