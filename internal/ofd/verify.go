package ofd

import (
	"archive/zip"
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Limits on a package Verify opens: far above what certhub writes (a few
// hundred KB in some twenty files), far below what would hurt the hub.
const (
	MaxEntries          = 1000
	MaxUncompressed     = 64 << 20 // all entries together
	MaxCompressionRatio = 200      // per entry over 1 MiB; deflate of real data stays far below
)

// Report is what Verify found. Valid is true only when every reference
// matches, every file is referenced and the seal verifies.
type Report struct {
	Valid     bool   `json:"valid"`
	LicenceID string `json:"licenceId,omitempty"`
	// AnnotationID is an annotated copy's annotationId, "" for a plain
	// licence file; exchange.Annotations.Check says if the copy is usable.
	AnnotationID string             `json:"annotationId,omitempty"`
	Problems     []string           `json:"problems,omitempty"` // each names the file and the reason
	Files        int                `json:"files"`              // files checked against their references
	SES          *signing.SESReport `json:"seal,omitempty"`
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifySES checks a DER SES_Signature over data; signing.Manager's
// VerifySealedBytes (bound to a context) and signing.VerifySES fit.
type VerifySES func(ses, data []byte) (*signing.SESReport, error)

// Verify opens an OFD package and checks its first signature: the SM3
// digest of every file Signature.xml references, that every file outside
// the signature's own files is referenced, and the SES_Signature over
// Signature.xml (by verifySES). An error means the file could not be read
// as an OFD package at all (not a zip, a zip bomb, an unsafe path, no
// OFD.xml or no signature): an Invalid error naming "file".
func Verify(r io.ReaderAt, size int64, verifySES VerifySES) (*Report, error) {
	files, err := readZip(r, size)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	var ofd struct {
		DocBody []struct {
			CustomData []struct {
				Name  string `xml:"Name,attr"`
				Value string `xml:",chardata"`
			} `xml:"DocInfo>CustomDatas>CustomData"`
			DocRoot    string `xml:"DocRoot"`
			Signatures string `xml:"Signatures"`
		} `xml:"DocBody"`
	}
	if err := parseXML(files, EntryPath, &ofd); err != nil {
		return nil, err
	}
	if len(ofd.DocBody) == 0 {
		return nil, errs.Field("file", "%s has no DocBody", EntryPath)
	}
	body := ofd.DocBody[0]
	for _, c := range body.CustomData {
		switch c.Name {
		case LicenceIDName:
			rep.LicenceID = strings.TrimSpace(c.Value)
		case AnnotationIDName:
			rep.AnnotationID = strings.TrimSpace(c.Value)
		}
	}
	if body.Signatures == "" {
		return nil, errs.Field("file", "the package is not signed (%s names no Signatures)", EntryPath)
	}
	sigsPath := resolve(EntryPath, body.Signatures)
	var sigs struct {
		Signature []struct {
			BaseLoc string `xml:"BaseLoc,attr"`
		} `xml:"Signature"`
	}
	if err := parseXML(files, sigsPath, &sigs); err != nil {
		return nil, err
	}
	if len(sigs.Signature) == 0 {
		return nil, errs.Field("file", "the package is not signed (%s lists no signature)", sigsPath)
	}
	sigPath := resolve(sigsPath, sigs.Signature[0].BaseLoc)
	var sig struct {
		References struct {
			CheckMethod string `xml:"CheckMethod,attr"`
			Reference   []struct {
				FileRef    string `xml:"FileRef,attr"`
				CheckValue string `xml:"CheckValue"`
			} `xml:"Reference"`
		} `xml:"SignedInfo>References"`
		Seal        string `xml:"SignedInfo>Seal>BaseLoc"`
		SignedValue string `xml:"SignedValue"`
	}
	if err := parseXML(files, sigPath, &sig); err != nil {
		return nil, err
	}
	valuePath := resolve(sigPath, sig.SignedValue)
	own := map[string]bool{sigsPath: true, sigPath: true, valuePath: true}
	if sig.Seal != "" {
		own[resolve(sigPath, sig.Seal)] = true
	}

	if m := sig.References.CheckMethod; m != SM3MethodOID && !strings.EqualFold(m, "SM3") {
		rep.problem("%s: CheckMethod %q is not SM3 (%s)", sigPath, m, SM3MethodOID)
	}
	referenced := map[string]bool{}
	for _, ref := range sig.References.Reference {
		name := resolve(sigPath, ref.FileRef)
		referenced[name] = true
		data, ok := files[name]
		if !ok {
			rep.problem("%s: referenced in %s but not in the package", name, sigPath)
			continue
		}
		want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ref.CheckValue))
		got := sm3.Sum(data)
		switch {
		case err != nil:
			rep.problem("%s: CheckValue is not base64", name)
		case !bytes.Equal(want, got[:]):
			rep.problem("%s: SM3 digest does not match its reference", name)
		default:
			rep.Files++
		}
	}
	var unreferenced []string
	for name := range files {
		if !referenced[name] && !own[name] {
			unreferenced = append(unreferenced, name)
		}
	}
	sort.Strings(unreferenced)
	for _, name := range unreferenced {
		rep.problem("%s: not covered by the signature (no reference in %s)", name, sigPath)
	}

	ses, ok := files[valuePath]
	if !ok {
		rep.problem("%s: the signed value named in %s is missing", valuePath, sigPath)
		return rep, nil
	}
	if sig.Seal != "" {
		sealPath := resolve(sigPath, sig.Seal)
		var parsed signing.SESSignature
		esl, ok := files[sealPath]
		switch _, err := asn1.Unmarshal(ses, &parsed); {
		case !ok:
			rep.problem("%s: the seal named in %s is missing", sealPath, sigPath)
		case err == nil && !bytes.Equal(esl, parsed.ToSign.ESeal.Raw):
			rep.problem("%s: not the seal inside %s", sealPath, valuePath)
		}
	}
	sesRep, err := verifySES(ses, files[sigPath])
	if err != nil && sesRep == nil {
		return nil, err
	}
	rep.SES = sesRep
	switch {
	case sesRep == nil || len(sesRep.Checks) == 0 && !sesRep.Valid:
		rep.problem("%s: the electronic seal does not verify (%v)", valuePath, err)
	case !sesRep.Valid:
		for _, c := range sesRep.Checks {
			if !c.OK {
				rep.problem("%s: %s: %s", valuePath, c.Name, c.Reason)
			}
		}
	}
	rep.Valid = len(rep.Problems) == 0
	return rep, nil
}

// readZip reads every entry, refusing unsafe paths, too many entries and
// more uncompressed bytes than MaxUncompressed (counted as read, not as
// the headers claim).
func readZip(r io.ReaderAt, size int64) (map[string][]byte, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, errs.Field("file", "not an OFD package (not a zip file: %v)", err)
	}
	if len(z.File) > MaxEntries {
		return nil, errs.Field("file", "the package has %d entries, over the limit of %d", len(z.File), MaxEntries)
	}
	files := map[string][]byte{}
	var total int64
	for _, f := range z.File {
		name := f.Name
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.Contains(name, ":") ||
			path.Clean(name) != strings.TrimSuffix(name, "/") || strings.HasPrefix(path.Clean(name), "..") {
			return nil, errs.Field("file", "unsafe path %q in the package (absolute, with .. or not clean)", name)
		}
		if strings.HasSuffix(name, "/") {
			continue // a directory entry
		}
		if _, dup := files[name]; dup {
			return nil, errs.Field("file", "%s appears twice in the package", name)
		}
		if f.UncompressedSize64 > MaxUncompressed || total+int64(f.UncompressedSize64) > MaxUncompressed {
			return nil, errs.Field("file", "the package unpacks to more than %d bytes (a zip bomb?)", MaxUncompressed)
		}
		if f.UncompressedSize64 > 1<<20 && f.UncompressedSize64 > MaxCompressionRatio*(f.CompressedSize64+1) {
			return nil, errs.Field("file", "%s is compressed %d:1 (a zip bomb?)", name, f.UncompressedSize64/(f.CompressedSize64+1))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errs.Field("file", "%s: %v", name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxUncompressed-total+1))
		rc.Close()
		if err != nil {
			return nil, errs.Field("file", "%s: %v", name, err)
		}
		total += int64(len(data))
		if total > MaxUncompressed {
			return nil, errs.Field("file", "the package unpacks to more than %d bytes (a zip bomb?)", MaxUncompressed)
		}
		files[name] = data
	}
	return files, nil
}

// resolve turns a location in an OFD file into a package path: "/a/b" is
// from the package root, "b" relative to the referring file's directory.
func resolve(from, loc string) string {
	loc = strings.TrimSpace(loc)
	if strings.HasPrefix(loc, "/") {
		return strings.TrimPrefix(path.Clean(loc), "/")
	}
	return strings.TrimPrefix(path.Clean(path.Join(path.Dir(from), loc)), "/")
}

func parseXML(files map[string][]byte, name string, v any) error {
	data, ok := files[name]
	if !ok {
		return errs.Field("file", "not an OFD package: %s is missing", name)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errs.Field("file", "%s is not well-formed XML: %v", name, err)
	}
	return nil
}
