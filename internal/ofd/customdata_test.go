package ofd_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/ofd"
)

// TestCustomDataIsSealed: an annotated copy's annotationId is written in
// OFD.xml beside licenceId, its watermark in Content.xml, and both are
// under the seal: changing the id makes verification fail on OFD.xml.
func TestCustomDataIsSealed(t *testing.T) {
	h := sealedHub(t)
	const id, mark = "ann_abcdefghijklmnopqrstuvwxyz", "仅用于办理银行开户，有效期至2027年01月31日"
	doc := document(t, h, font(t), mark)
	doc.CustomData = []ofd.CustomData{{Name: ofd.AnnotationIDName, Value: id}}
	pkg := write(t, doc)
	rep, err := ofd.Verify(bytes.NewReader(pkg), int64(len(pkg)), verifier(h))
	if err != nil || !rep.Valid || rep.LicenceID != licenceID || rep.AnnotationID != id {
		t.Fatalf("report %+v, %v", rep, err)
	}
	names, files := entries(t, pkg)
	var entry struct {
		Custom []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		} `xml:"DocBody>DocInfo>CustomDatas>CustomData"`
	}
	if err := xml.Unmarshal(files[ofd.EntryPath], &entry); err != nil {
		t.Fatal(err)
	}
	if len(entry.Custom) != 2 || entry.Custom[0].Name != ofd.LicenceIDName || entry.Custom[0].Value != licenceID ||
		entry.Custom[1].Name != "annotationId" || entry.Custom[1].Value != id {
		t.Fatalf("OFD.xml custom data = %+v\n%s", entry.Custom, files[ofd.EntryPath])
	}
	if !strings.Contains(string(files["Doc_0/Pages/Page_0/Content.xml"]), mark) {
		t.Fatal("Content.xml lacks the watermark")
	}

	files[ofd.EntryPath] = bytes.Replace(files[ofd.EntryPath], []byte(id), []byte("ann_forgedforgedforgedforgedxx"), 1)
	bad := rezip(t, names, files)
	rep, err = ofd.Verify(bytes.NewReader(bad), int64(len(bad)), verifier(h))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || !strings.Contains(strings.Join(rep.Problems, "\n"), "OFD.xml: SM3 digest does not match its reference") {
		t.Fatalf("a changed annotationId: valid=%v %q", rep.Valid, rep.Problems)
	}

	doc.CustomData = []ofd.CustomData{{Name: ofd.LicenceIDName, Value: "x"}}
	if err := ofd.Write(&bytes.Buffer{}, doc); err == nil || !strings.Contains(err.Error(), "customData[0].name") {
		t.Fatalf("a second licenceId: %v", err)
	}
}
