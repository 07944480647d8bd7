package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

type annotated struct {
	ID            string  `json:"id"`
	Purpose       string  `json:"purpose"`
	CertificateID string  `json:"certificate_id"`
	ExpiresAt     string  `json:"expires_at"`
	PDF           string  `json:"pdf"`
	OFD           *string `json:"ofd"`
	Requester     string  `json:"requester"`
	Status        string  `json:"status"`
}

// TestAnnotatedCopies: the holder asks for an annotated copy; its PDF
// carries the watermark on the page (pdftotext), annotationId in its
// custom information (pdfinfo -custom) and a signature pdfsig still calls
// valid; its OFD holds annotationId in OFD.xml and the watermark in
// Content.xml, and its seal verifies; the copy is in the holder's access
// history and list; another holder gets 404; revoking makes the files 410
// and Check say revoked; a department under its agreement asks for one
// too and gets its files, which the holder sees; moving the clock past the
// expiry makes Check say expired and the files 410.
func TestAnnotatedCopies(t *testing.T) {
	t.Parallel()
	h, id, holder := sealingHub(t)
	ctx := context.Background()
	today := h.Certs.Today()
	expires := today.AddDays(30)

	var a annotated
	if st := h.call("POST", "/api/v1/me/certificates/"+id+"/annotated", holder,
		map[string]string{"purpose": "办理银行开户", "expires_at": expires.String()}, &a); st != 201 {
		t.Fatalf("holder's copy: %d %+v", st, a)
	}
	if !strings.HasPrefix(a.ID, "ann_") || a.Purpose != "办理银行开户" || a.ExpiresAt != expires.String() ||
		a.PDF != "/api/v1/me/annotated/"+a.ID+"/file?format=pdf" || a.OFD == nil || *a.OFD != "/api/v1/me/annotated/"+a.ID+"/file?format=ofd" {
		t.Fatalf("answer = %+v", a)
	}
	y, m, d := expires.Start(time.UTC).Date()
	mark := "仅用于办理银行开户，有效期至" + time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format("2006年01月02日")

	// The PDF: watermark printed, annotationId in the information, signed.
	st, ct, body := h.fetch(a.PDF, holder)
	if st != 200 || ct != "application/pdf" {
		t.Fatalf("PDF: %d %s %.200s", st, ct, body)
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "copy.pdf")
	_ = os.WriteFile(pdfPath, body, 0o600)
	text, err := exec.Command(testenv.Tool(t, "pdftotext", "Debian package poppler-utils"), "-raw", pdfPath, "-").CombinedOutput()
	if err != nil || !strings.Contains(strings.Join(strings.Fields(string(text)), ""), mark) {
		t.Fatalf("pdftotext does not find %q: %v\n%s", mark, err, text)
	}
	custom, err := exec.Command(testenv.Tool(t, "pdfinfo", "Debian package poppler-utils"), "-custom", pdfPath).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^annotationId:\s+`+a.ID+`$`).Match(custom) {
		t.Fatalf("pdfinfo -custom: no annotationId %s: %v\n%s", a.ID, err, custom)
	}
	sig, _ := exec.Command(testenv.Tool(t, "pdfsig", "Debian package poppler-utils"), pdfPath).CombinedOutput()
	if !strings.Contains(string(sig), "Signature is Valid.") || !strings.Contains(string(sig), "Total document signed") {
		t.Fatalf("pdfsig:\n%s", sig)
	}

	// The OFD: annotationId in OFD.xml, the watermark in Content.xml, sealed.
	st, ct, body = h.fetch(*a.OFD, holder)
	if st != 200 || ct != "application/ofd" {
		t.Fatalf("OFD: %d %s %.200s", st, ct, body)
	}
	rep, err := ofd.Verify(bytes.NewReader(body), int64(len(body)), func(ses, data []byte) (*signing.SESReport, error) {
		return h.Certs.Keys.VerifySealedBytes(ctx, ses, data)
	})
	if err != nil || !rep.Valid || rep.LicenceID != id {
		t.Fatalf("OFD does not verify: %+v %v", rep, err)
	}
	entry, content := zipFile(t, body, ofd.EntryPath), zipFile(t, body, "Doc_0/Pages/Page_0/Content.xml")
	if !strings.Contains(entry, `<ofd:CustomData Name="annotationId">`+a.ID+`</ofd:CustomData>`) {
		t.Fatalf("OFD.xml has no annotationId:\n%s", entry)
	}
	if !strings.Contains(content, mark) {
		t.Fatalf("Content.xml has no watermark %q", mark)
	}

	// Access history and list; not another holder's.
	var acc struct{ Accesses []exchange.AuditEntry }
	h.call("GET", "/api/v1/me/accesses", holder, nil, &acc)
	seen := map[string]bool{}
	for _, e := range acc.Accesses {
		if e.Purpose == "办理银行开户" && strings.Contains(e.Outcome, a.ID) {
			seen[e.Action] = true
		}
	}
	if !seen["annotate"] || !seen["annotated_file"] {
		t.Fatalf("the copy is not in the holder's access history: %+v", acc.Accesses)
	}
	other := h.holderToken(personID, "张三")
	if st := h.call("POST", "/api/v1/me/certificates/"+id+"/annotated", other, map[string]string{"purpose": "x", "expires_at": expires.String()}, nil); st != 404 {
		t.Fatalf("another holder's certificate: %d, want 404", st)
	}
	if st, _, _ := h.fetch(a.PDF, other); st != 404 {
		t.Fatalf("another holder's copy: %d, want 404", st)
	}
	if st := h.call("DELETE", "/api/v1/me/annotated/"+a.ID, other, nil, nil); st != 404 {
		t.Fatalf("another holder revokes: %d, want 404", st)
	}

	// A department under its agreement asks for a copy for its case.
	consumer := h.token(exchange.RoleConsumer, "")
	var c annotated
	if st := h.call("POST", "/api/v1/certificates/"+id+"/annotated", consumer, map[string]string{"purpose": "办理食品经营许可", "expires_at": today.String()}, &c,
		"X-Purpose", "SX-001", "X-Case-Id", "2026-A-9"); st != 201 || c.PDF != "/api/v1/annotated/"+c.ID+"/file?format=pdf" || c.OFD == nil {
		t.Fatalf("consumer's copy: %d %+v", st, c)
	}
	if st, ct, _ := h.fetch(*c.OFD, consumer); st != 200 || ct != "application/ofd" {
		t.Fatalf("consumer's OFD: %d %s", st, ct)
	}
	if st, _, _ := h.fetch(c.PDF, h.token(exchange.RoleConsumer, "")); st != 404 {
		t.Fatalf("another consumer's copy: %d, want 404", st)
	}
	st, _, consumerPDF := h.fetch(c.PDF, h.Admin)
	if st != 200 {
		t.Fatalf("admin: %d", st)
	}
	found := false
	for _, e := range h.ledger() {
		found = found || (e.Action == "annotate" && e.CaseID == "2026-A-9" && e.Agreement != "" && e.Holder != "" && strings.HasPrefix(e.Actor, "consumer:"))
	}
	if !found {
		t.Fatal("the consumer's copy is not in the ledger with its case, agreement and holder")
	}
	// Once the agreement is withdrawn the department gets its copy no more.
	agreement := ""
	for _, e := range h.ledger() {
		if e.Action == "annotate" && e.CaseID == "2026-A-9" {
			agreement = e.Agreement
		}
	}
	if st := h.call("POST", "/api/v1/agreements/"+agreement+"/withdraw", h.Admin, map[string]string{"reason": "系统下线"}, nil); st != 200 {
		t.Fatalf("withdraw: %d", st)
	}
	if st, _, _ := h.fetch(c.PDF, consumer); st != 403 {
		t.Fatalf("after the agreement is withdrawn: %d, want 403", st)
	}
	var list struct{ Annotated []annotated }
	if st := h.call("GET", "/api/v1/me/annotated", holder, nil, &list); st != 200 || len(list.Annotated) != 2 ||
		list.Annotated[0].ID != c.ID || !strings.HasPrefix(list.Annotated[0].Requester, "consumer:") || list.Annotated[1].Requester != "holder" {
		t.Fatalf("my annotated: %d %+v", st, list)
	}

	// The copy verifies when uploaded, as the copy it is.
	_, _, copyPDF := h.fetch(a.PDF, holder)
	_, _, copyOFD := h.fetch(*a.OFD, holder)
	for _, f := range [][]byte{copyPDF, copyOFD} {
		if st, v := h.upload("file", f); st != 200 || !v.Valid {
			t.Fatalf("uploaded copy: %d %+v", st, v)
		}
	}

	// Revoked: files 410 with the reason, Check says revoked.
	if st := h.call("DELETE", "/api/v1/me/annotated/"+a.ID, holder, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	// Verification refuses the copy from now on, the licence itself valid.
	for _, f := range [][]byte{copyPDF, copyOFD} {
		if st, v := h.upload("file", f); st != 200 || v.Valid || !slices.Contains(v.Reasons, exchange.AnnotationRevoked) {
			t.Fatalf("uploaded revoked copy: %d %+v", st, v)
		}
	}
	var gone errorAnswer
	if st := h.call("GET", a.PDF, holder, nil, &gone); st != 410 || !strings.Contains(gone.Error.Message, exchange.AnnotationRevoked) {
		t.Fatalf("revoked PDF: %d %+v", st, gone.Error)
	}
	if st, _, _ := h.fetch(*a.OFD, holder); st != 410 {
		t.Fatalf("revoked OFD: %d", st)
	}
	for aid, want := range map[string]string{a.ID: exchange.AnnotationRevoked, c.ID: "", "ann_unknown": exchange.AnnotationUnknown} {
		if got, err := h.API.Annotations.Check(ctx, aid); err != nil || got != want {
			t.Fatalf("Check(%s) = %q, %v; want %q", aid, got, err, want)
		}
	}

	// Past the consumer's copy's expiry (today, hub's zone): expired.
	h.Clock.Advance(48 * time.Hour)
	if got, err := h.API.Annotations.Check(ctx, c.ID); err != nil || got != exchange.AnnotationExpired {
		t.Fatalf("Check after expiry = %q, %v", got, err)
	}
	if st := h.call("GET", c.PDF, h.Admin, nil, &gone); st != 410 || !strings.Contains(gone.Error.Message, exchange.AnnotationExpired) {
		t.Fatalf("expired PDF: %d %+v", st, gone.Error)
	}
	if st, v := h.upload("file", consumerPDF); st != 200 || v.Valid || !slices.Contains(v.Reasons, exchange.AnnotationExpired) {
		t.Fatalf("uploaded expired copy: %d %+v", st, v)
	}
}

// TestAnnotatedCopyBadInput: a missing or multi-line purpose, one too
// long, and an expiry in the past, past 90 days or malformed are 400
// naming the field, and nothing is stored.
func TestAnnotatedCopyBadInput(t *testing.T) {
	t.Parallel()
	h, id, holder := sealingHub(t)
	today := h.Certs.Today()
	ok := today.AddDays(7).String()
	for _, tc := range []struct {
		name, purpose, expires, field string
	}{
		{"empty purpose", "", ok, "purpose"},
		{"blank purpose", "   ", ok, "purpose"},
		{"control character", "办理\x07开户", ok, "purpose"},
		{"two lines", "办理\n开户", ok, "purpose"},
		{"purpose too long", strings.Repeat("办", 101), ok, "purpose"},
		{"no expiry", "办理银行开户", "", "expires_at"},
		{"past 90 days", "办理银行开户", today.AddDays(91).String(), "expires_at"},
		{"in the past", "办理银行开户", today.AddDays(-1).String(), "expires_at"},
		{"malformed", "办理银行开户", "2026/12/31", "expires_at"},
		{"not a date", "办理银行开户", "2026-02-30", "expires_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out errorAnswer
			st := h.call("POST", "/api/v1/me/certificates/"+id+"/annotated", holder, map[string]string{"purpose": tc.purpose, "expires_at": tc.expires}, &out)
			if st != 400 || !out.names(tc.field, "") {
				t.Fatalf("%d %+v, want 400 naming %s", st, out.Error, tc.field)
			}
		})
	}
	// 90 days exactly is allowed.
	if st := h.call("POST", "/api/v1/me/certificates/"+id+"/annotated", holder, map[string]string{"purpose": "办理银行开户", "expires_at": today.AddDays(90).String()}, nil); st != 201 {
		t.Fatalf("90 days: %d", st)
	}
	var list struct{ Annotated []annotated }
	if h.call("GET", "/api/v1/me/annotated", holder, nil, &list); len(list.Annotated) != 1 {
		t.Fatalf("stored %d copies, want only the good one", len(list.Annotated))
	}
	// Only a valid certificate: a revoked one is 409.
	if st := h.call("POST", "/api/v1/certificates/"+id+"/revoke", h.Admin, map[string]string{"reason": "测试"}, nil); st != 200 {
		t.Fatalf("revoke certificate: %d", st)
	}
	var out errorAnswer
	if st := h.call("POST", "/api/v1/me/certificates/"+id+"/annotated", holder, map[string]string{"purpose": "办理银行开户", "expires_at": ok}, &out); st != 409 {
		t.Fatalf("revoked certificate: %d %+v, want 409", st, out.Error)
	}
}

// zipFile reads one file of a zip package.
func zipFile(t *testing.T, pkg []byte, name string) string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := z.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}
