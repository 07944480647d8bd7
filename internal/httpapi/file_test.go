package httpapi_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// TestLicenceFiles: GET …/file?format=ofd|pdf gives the licence as a sealed
// OFD (its references and SM2 e-seal verify, unzip accepts it) and a signed
// PDF (poppler's pdfsig says valid and trusted with the hub's seal CA root,
// pdftotext finds the holder and the identifier), to an admin, a consumer
// whose agreement grants the document (recorded in the ledger) and the
// holder; not to another holder; an authority without the key a format
// needs gets 409 saying what to configure.
func TestLicenceFiles(t *testing.T) {
	t.Parallel()
	h, id, holder := sealingHub(t)
	issued := struct{ ID string }{id}
	ctx := context.Background()
	path := "/api/v1/certificates/" + issued.ID + "/file?format="

	st, ct, body := h.fetch(path+"ofd", h.Admin)
	if st != 200 || ct != "application/ofd" {
		t.Fatalf("OFD: %d %s %.200s", st, ct, body)
	}
	rep, err := ofd.Verify(bytes.NewReader(body), int64(len(body)), func(ses, data []byte) (*signing.SESReport, error) {
		return h.Certs.Keys.VerifySealedBytes(ctx, ses, data)
	})
	if err != nil || !rep.Valid || rep.LicenceID != issued.ID || !rep.SES.Valid {
		t.Fatalf("OFD does not verify: %+v %v", rep, err)
	}
	dir := t.TempDir()
	ofdPath := filepath.Join(dir, "licence.ofd")
	_ = os.WriteFile(ofdPath, body, 0o600)
	if out, err := exec.Command(testenv.Tool(t, "unzip", "Debian package unzip"), "-t", ofdPath).CombinedOutput(); err != nil {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}

	st, ct, body = h.fetch(path+"pdf", h.Admin)
	if st != 200 || ct != "application/pdf" || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("PDF: %d %s %.200s", st, ct, body)
	}
	pdfPath := filepath.Join(dir, "licence.pdf")
	_ = os.WriteFile(pdfPath, body, 0o600)
	text, err := exec.Command(testenv.Tool(t, "pdftotext", "Debian package poppler-utils"), pdfPath, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(text), "福建某某科技有限公司") || !strings.Contains(strings.ReplaceAll(string(text), "\n", ""), issued.ID) {
		t.Fatalf("pdftotext: %v\n%s", err, text)
	}
	nss := filepath.Join(dir, "nss")
	_ = os.Mkdir(nss, 0o700)
	certutil := testenv.Tool(t, "certutil", "Debian package libnss3-tools")
	rootPEM := filepath.Join(dir, "roots.pem")
	_ = os.WriteFile(rootPEM, p256Root(t, h.getPublic("/.well-known/certhub-seal-ca.pem")), 0o600)
	for _, args := range [][]string{{"-N", "-d", "sql:" + nss, "--empty-password"}, {"-A", "-d", "sql:" + nss, "-n", "certhub-seal-ca", "-t", "C,C,C", "-i", rootPEM}} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	sig, _ := exec.Command(testenv.Tool(t, "pdfsig", "Debian package poppler-utils"), "-nssdir", "sql:"+nss, pdfPath).CombinedOutput()
	for _, want := range []string{"Signature is Valid.", "Total document signed", "Certificate is Trusted"} {
		if !strings.Contains(string(sig), want) {
			t.Fatalf("pdfsig does not say %q:\n%s", want, sig)
		}
	}

	// A rendered page, for people to look at.
	if art := os.Getenv("CERTHUB_ARTIFACTS"); art != "" {
		_ = os.MkdirAll(art, 0o755)
		if out, err := exec.Command(testenv.Tool(t, "pdftoppm", "Debian package poppler-utils"), "-r", "100", "-png", "-singlefile", pdfPath,
			filepath.Join(art, "45-licence-file-pdf")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
	}

	// A consumer whose agreement grants the document gets it, recorded.
	consumer := h.token("consumer", "")
	if st, _, _ := h.fetch(path+"pdf", consumer, "X-Purpose", "SX-001", "X-Case-Id", "2026-F-1"); st != 200 {
		t.Fatalf("consumer: %d", st)
	}
	found := false
	for _, e := range h.ledger() {
		found = found || (e.Action == "file" && e.CaseID == "2026-F-1" && strings.Contains(e.Outcome, "pdf"))
	}
	if !found {
		t.Fatal("the consumer's file is not in the ledger")
	}
	// The holder gets their own, and another holder nothing.
	if st, ct, _ := h.fetch("/api/v1/me/certificates/"+issued.ID+"/file?format=ofd", holder); st != 200 || ct != "application/ofd" {
		t.Fatalf("holder: %d %s", st, ct)
	}
	if st, _, _ := h.fetch("/api/v1/me/certificates/"+issued.ID+"/file?format=pdf", h.holderToken(personID, "张三")); st != 404 {
		t.Fatalf("another holder: %d, want 404", st)
	}

	var bad errorAnswer
	if st := h.call("GET", path+"docx", h.Admin, nil, &bad); st != 400 || !bad.names("format", "ofd or pdf") {
		t.Fatalf("format docx: %d %+v", st, bad.Error)
	}
	// The other authority seals with EdDSA only: no SM2 key for an OFD,
	// no ES256 key for a PDF; each 409 says what to configure.
	other := issueBody()
	other["authority"] = otherCode
	var otherIssued struct{ ID string }
	if st := h.call("POST", "/api/v1/types", h.Admin, map[string]any{"code": otherCode + "001", "name": "不动产权证书", "defining_authority": otherCode,
		"holder_kind": "organisation", "fields": []map[string]any{{"name": "unit", "label": "不动产单元号", "type": "string", "required": true}}}, nil); st != 201 {
		t.Fatalf("type: %d", st)
	}
	if st := h.call("POST", "/api/v1/certificates", h.Admin, map[string]any{"type": otherCode + "001", "authority": otherCode,
		"holder": map[string]string{"kind": "organisation", "id": companyID, "name": "福建某某科技有限公司"}, "data": map[string]any{"unit": "330102001001GB00001F00010001"},
		"valid_from": "2024-01-01"}, &otherIssued); st != 201 {
		t.Fatalf("issue under EdDSA: %d", st)
	}
	for f, want := range map[string]string{"ofd": `{"algorithm": "SM2"}`, "pdf": "ES256"} {
		var out errorAnswer
		if st := h.call("GET", "/api/v1/certificates/"+otherIssued.ID+"/file?format="+f, h.Admin, nil, &out); st != 409 || !strings.Contains(out.Error.Message, want) {
			t.Fatalf("%s without its key: %d %+v", f, st, out.Error)
		}
	}
}

// p256Root picks the P-256 root out of the seal CA PEM (NSS is given the
// root of the PDF's chain only).
func p256Root(t *testing.T, pemBytes []byte) []byte {
	t.Helper()
	blocks := strings.SplitAfter(string(pemBytes), "-----END CERTIFICATE-----\n")
	openssl := testenv.Tool(t, "openssl", "Debian package openssl")
	for _, b := range blocks {
		if !strings.Contains(b, "BEGIN CERTIFICATE") {
			continue
		}
		cmd := exec.Command(openssl, "x509", "-noout", "-text")
		cmd.Stdin = strings.NewReader(b)
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "prime256v1") || strings.Contains(string(out), "P-256") {
			return []byte(b)
		}
	}
	t.Fatalf("no P-256 root in\n%s", pemBytes)
	return nil
}
