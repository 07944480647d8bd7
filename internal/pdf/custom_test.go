package pdf_test

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/pdf"
	"github.com/certhub/certhub/internal/testenv"
)

// TestCustomInfoIsSigned: an annotated copy's annotationId is a custom
// entry of the document information that pdfinfo -custom shows, it lies
// inside the signature's byte range, and changing it breaks the signature.
func TestCustomInfoIsSigned(t *testing.T) {
	ca := newTestCA(t)
	const id = "ann_abcdefghijklmnopqrstuvwxyz"
	doc := document(t, ca.key, ca.chain, "仅用于办理银行开户，有效期至2027年01月31日")
	doc.Custom = []pdf.Info{{Name: "annotationId", Value: id}}
	data := write(t, doc)
	checkSigned(t, ca.root, data)

	custom := run(t, testenv.Tool(t, "pdfinfo", "apt-get install poppler-utils"), "-custom", saveFile(t, data))
	if !regexp.MustCompile(`(?m)^annotationId:\s+`+id+`$`).MatchString(custom) || !strings.Contains(custom, "licenceId:") {
		t.Errorf("pdfinfo -custom: want licenceId and annotationId %s:\n%s", id, custom)
	}

	at := bytes.Index(data, []byte("/annotationId <FEFF"))
	m := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindSubmatch(data)
	if at < 0 || m == nil {
		t.Fatalf("annotationId at %d, ByteRange %q", at, m)
	}
	var r [4]int
	for i := range r {
		r[i], _ = strconv.Atoi(string(m[i+1]))
	}
	if !(at >= r[0] && at < r[0]+r[1]) && !(at >= r[2] && at < r[2]+r[3]) {
		t.Fatalf("annotationId at %d is outside the signed range %v", at, r)
	}
	altered := append([]byte(nil), data...)
	altered[at+len("/annotationId <FEFF")+3] ^= 1
	if out := pdfsig(t, nssDB(t, ca.root), altered); strings.Contains(out, "Signature is Valid.") {
		t.Errorf("altered annotationId: pdfsig still says valid:\n%s", out)
	}

	doc.Custom = []pdf.Info{{Name: "bad name", Value: "x"}}
	if err := pdf.Write(&bytes.Buffer{}, doc); err == nil || !strings.Contains(err.Error(), "custom[0].name") {
		t.Fatalf("a bad name: %v", err)
	}
}
