package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/layout"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/pdf"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// fileAnswer is POST /api/v1/verify's answer to an uploaded file.
type fileAnswer struct {
	Valid        bool     `json:"valid"`
	Reasons      []string `json:"reasons"`
	Status       string   `json:"status"`
	Current      *bool    `json:"current"`
	CurrentID    string   `json:"current_id"`
	Form         string   `json:"form"`
	FileProblems []string `json:"file_problems"`
	Certificate  *struct {
		ID string `json:"id"`
	} `json:"certificate"`
	Error struct{ Code, Message, Field string } `json:"error"`
}

// upload posts data as the multipart field (empty: no file part at all).
func (h *hub) upload(field string, data []byte) (int, fileAnswer) {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("note", "窗口")
	if field != "" {
		fw, _ := mw.CreateFormFile(field, "licence")
		_, _ = fw.Write(data)
	}
	_ = mw.Close()
	resp, err := http.Post(h.Srv.URL+"/api/v1/verify", mw.FormDataContentType(), &body)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a fileAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		h.t.Fatalf("answer %d is not JSON: %.300s", resp.StatusCode, raw)
	}
	return resp.StatusCode, a
}

// TestVerifyUploadedFile: POST /api/v1/verify with a licence file (OFD and
// PDF from GET …/file) says valid; after a revocation each says revoked;
// an older version's file says superseded and names the current one; a
// PDF with bytes appended, an OFD with one byte of Content.xml changed and
// a PDF signed under an unknown CA or by another authority's key are
// invalid with their reason; garbage,
// an oversize file and a missing field are 4xx naming file. The JSON forms
// keep working.
func TestVerifyUploadedFile(t *testing.T) {
	t.Parallel()
	h, id, _ := sealingHub(t)
	issued := struct{ ID string }{id}
	files := map[string][]byte{}
	for _, f := range []string{"ofd", "pdf"} {
		st, _, body := h.fetch("/api/v1/certificates/"+issued.ID+"/file?format="+f, h.Admin)
		if st != 200 {
			t.Fatalf("%s: %d %.200s", f, st, body)
		}
		files[f] = body
		st, a := h.upload("file", body)
		if st != 200 || !a.Valid || a.Form != f || a.Status != "valid" || a.Certificate == nil || a.Certificate.ID != issued.ID || len(a.FileProblems) != 0 {
			t.Fatalf("%s upload: %d %+v", f, st, a)
		}
	}

	// One byte of Content.xml changed, rezipped: invalid, the file named.
	tampered := rezip(t, files["ofd"], func(name string, b []byte) []byte {
		if strings.HasSuffix(name, "Content.xml") {
			b = bytes.Replace(b, []byte("福建"), []byte("福州"), 1)
		}
		return b
	})
	if st, a := h.upload("file", tampered); st != 200 || a.Valid || !slices.Contains(a.Reasons, "digest_mismatch") || !strings.Contains(strings.Join(a.FileProblems, ";"), "Content.xml") {
		t.Fatalf("tampered OFD: %d %+v", st, a)
	}
	// Bytes appended to the PDF (an incremental update no one signed).
	appended := append(bytes.Clone(files["pdf"]), []byte("\n% appended\n%%EOF\n")...)
	if st, a := h.upload("file", appended); st != 200 || a.Valid || !slices.Contains(a.Reasons, "not_whole_file") {
		t.Fatalf("appended PDF: %d %+v", st, a)
	}
	// A byte inside the signed part changed.
	i := bytes.Index(files["pdf"], []byte("/Title"))
	changed := bytes.Clone(files["pdf"])
	changed[i+1] = 'X'
	if st, a := h.upload("file", changed); st != 200 || a.Valid || !slices.Contains(a.Reasons, "digest_mismatch") {
		t.Fatalf("changed PDF: %d %+v", st, a)
	}
	// A PDF signed by a key under a CA the hub does not know.
	if st, a := h.upload("file", foreignPDF(t, issued.ID)); st != 200 || a.Valid || !slices.Contains(a.Reasons, "untrusted_signer") {
		t.Fatalf("foreign PDF: %d %+v", st, a)
	}

	// A PDF of this licence signed by another authority's trusted key.
	if st := h.call("POST", "/api/v1/authorities/"+otherCode+"/keys", h.Admin, map[string]string{"algorithm": "ES256"}, nil); st != 201 {
		t.Fatalf("add ES256 key to the other authority: %d", st)
	}
	key, chain, err := h.Certs.Keys.PDFSigner(context.Background(), otherCode)
	if err != nil {
		t.Fatal(err)
	}
	if st, a := h.upload("file", signedPDF(t, issued.ID, key, chain)); st != 200 || a.Valid || !slices.Contains(a.Reasons, "issuer_mismatch") {
		t.Fatalf("PDF signed by another authority: %d %+v", st, a)
	}

	// Hostile variants (truncated, a byte flipped anywhere, a ByteRange
	// pointing past the end): an answer or a 4xx naming file, never a 5xx
	// and never valid.
	for f, data := range files {
		// The PDF signature's value (hex, zero-padded) is the one part a
		// byte of which may change without changing anything: skip it.
		gapFrom, gapTo := bytes.LastIndex(data, []byte("/Contents<")), -1
		if gapFrom >= 0 {
			gapTo = gapFrom + bytes.IndexByte(data[gapFrom:], '>')
		}
		for i := 1; i < 40; i++ {
			at := len(data) * i / 40
			cut := data[:at]
			flip := bytes.Clone(data)
			flip[at] ^= 0x20
			variants := [][]byte{cut, flip}
			if f == "pdf" && at >= gapFrom && at <= gapTo {
				variants = variants[:1]
			}
			for _, v := range variants {
				if st, a := h.upload("file", v); st >= 500 || a.Valid || (st >= 400 && a.Error.Field != "file") {
					t.Fatalf("%s variant %d: %d %+v", f, i, st, a)
				}
			}
		}
	}
	if j := bytes.LastIndex(files["pdf"], []byte("/ByteRange [0 ")); j > 0 {
		past := bytes.Clone(files["pdf"])
		copy(past[j:], "/ByteRange [9 ")
		if st, a := h.upload("file", past); st != 200 || a.Valid {
			t.Fatalf("ByteRange not from 0: %d %+v", st, a)
		}
	}

	// Bad input: 4xx naming file.
	for _, tc := range []struct {
		name  string
		field string
		data  []byte
		want  int
	}{
		{"garbage", "file", []byte("hello, this is not a licence"), 400},
		{"a zip that is not an OFD", "file", rezip(t, files["ofd"], func(name string, b []byte) []byte {
			if name == "OFD.xml" {
				return nil
			}
			return b
		}), 400},
		{"a zip bomb", "file", zipBomb(t), 400},
		{"a PDF header and nothing", "file", []byte("%PDF-1.7\n%%EOF\n"), 400},
		{"oversize", "file", append([]byte("%PDF-1.7\n"), make([]byte, 8<<20)...), 413},
		{"no file field", "", nil, 400},
		{"another field", "image", files["pdf"], 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, a := h.upload(tc.field, tc.data)
			if st != tc.want || a.Error.Field != "file" {
				t.Fatalf("%d %+v, want %d naming file", st, a.Error, tc.want)
			}
		})
	}

	// The JSON forms answer as before.
	var byID fileAnswer
	if st := h.call("POST", "/api/v1/verify", "", map[string]string{"id": issued.ID}, &byID); st != 200 || !byID.Valid || byID.Form != "" {
		t.Fatalf("verify by id: %d %+v", st, byID)
	}

	// A revision: the old files say superseded and name the current id.
	var rev struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates/"+issued.ID+"/revisions", h.Admin, map[string]any{"data": map[string]any{"legal_representative": "李四", "established_on": "2020-05-01", "capital": 200}, "reason": "变更"}, &rev); st != 201 {
		t.Fatalf("revise: %d", st)
	}
	for f, data := range files {
		st, a := h.upload("file", data)
		if st != 200 || a.Valid || !slices.Contains(a.Reasons, "superseded") || a.Current == nil || *a.Current || a.CurrentID != rev.ID {
			t.Fatalf("%s of the old version: %d %+v", f, st, a)
		}
	}
	// Revoked: the current version's files say so.
	for _, f := range []string{"ofd", "pdf"} {
		_, _, files[f] = h.fetch("/api/v1/certificates/"+rev.ID+"/file?format="+f, h.Admin)
	}
	if st := h.call("POST", "/api/v1/certificates/"+rev.ID+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	for f, data := range files {
		st, a := h.upload("file", data)
		if st != 200 || a.Valid || !slices.Contains(a.Reasons, "revoked") || a.Status != "revoked" || len(a.FileProblems) != 0 {
			t.Fatalf("%s after revocation: %d %+v", f, st, a)
		}
	}
}

// rezip rewrites each entry of a zip through edit (nil drops it).
func rezip(t *testing.T, data []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if b = edit(f.Name, b); b == nil {
			continue
		}
		w, _ := zw.Create(f.Name)
		_, _ = w.Write(b)
	}
	_ = zw.Close()
	return out.Bytes()
}

// zipBomb is a small zip holding OFD.xml and 100 MiB of zeros.
func zipBomb(t *testing.T) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, _ := zw.Create("OFD.xml")
	_, _ = w.Write([]byte(`<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>`))
	w, _ = zw.Create("Doc_0/Res/zeros.bin")
	zero := make([]byte, 1<<20)
	for range 100 {
		_, _ = w.Write(zero)
	}
	_ = zw.Close()
	return out.Bytes()
}

// foreignPDF is a licence PDF for id signed by a seal key certified by a
// P-256 seal CA the hub has never seen.
func foreignPDF(t *testing.T, id string) []byte {
	t.Helper()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootDER, err := signing.NewCARoot(rootKey, "伪造的印章 CA", now)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := signing.IssueSealCert(rootDER, rootKey, key.Public(), signing.SealSubject{Name: "杭州市市场监督管理局", USCC: "11330100002482131X"}, now)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return signedPDF(t, id, key, []*x509.Certificate{leaf, root})
}

// signedPDF is a one-page licence PDF for id signed by key and its chain.
func signedPDF(t *testing.T, id string, key crypto.Signer, chain []*x509.Certificate) []byte {
	t.Helper()
	path, err := ofd.FindFont(os.Getenv(ofd.FontEnv))
	if err != nil {
		testenv.Unavailable(t, "a CJK TrueType font", "apt-get install fonts-arphic-gbsn00lp")
	}
	font, err := pdf.LoadFont(path)
	if err != nil {
		testenv.Unavailable(t, "a CJK TrueType font", "apt-get install fonts-arphic-gbsn00lp")
	}
	now := time.Now()
	page := layout.Page{WidthMM: 210, HeightMM: 297, Texts: []layout.Text{{X: 20, Y: 30, W: 170, H: 16, SizeMM: 12, Text: "营业执照", Align: layout.Center}}}
	var b bytes.Buffer
	if err := pdf.Write(&b, pdf.Document{LicenceID: id, Title: "营业执照", Author: "杭州市市场监督管理局", Created: now, Pages: []layout.Page{page}, Font: font,
		Signer: pdf.Signer{Key: key, Chain: chain}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
