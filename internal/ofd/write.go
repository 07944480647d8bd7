package ofd

import (
	"archive/zip"
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
	"github.com/certhub/certhub/signing"
)

// Namespace is the OFD namespace (GB/T 33190-2016), written with prefix ofd.
const Namespace = "http://www.ofdspec.org/2016"

// Paths of the files every package has.
const (
	EntryPath         = "OFD.xml"
	DocumentPath      = "Doc_0/Document.xml"
	SignaturesPath    = "Doc_0/Signs/Signatures.xml"
	SignaturePath     = "Doc_0/Signs/Sign_0/Signature.xml"
	SignedValuePath   = "Doc_0/Signs/Sign_0/SignedValue.dat"
	SealPath          = "Doc_0/Signs/Sign_0/Seal.esl"
	LicenceIDName     = "licenceId"    // the CustomData in OFD.xml's DocInfo
	AnnotationIDName  = "annotationId" // an annotated copy's id, CustomData beside licenceId
	SM3MethodOID      = "1.2.156.10197.1.401"
	SM2SignMethodOID  = "1.2.156.10197.1.501"
	defaultCreator    = "certhub"
	signatureDateTime = "20060102150405Z"
)

// PropertyInfo is the propertyInfo of the SES_Signature in a package: the
// absolute location of what it signs, as OFD readers expect it.
const PropertyInfo = "/" + SignaturePath

// Sealer seals the bytes of Signature.xml and returns the DER
// SES_Signature (GB/T 38540) whose dataHash is their SM3 digest, as
// certificates.Service.ESeal does (pass PropertyInfo as its propertyInfo).
type Sealer func(signatureXML []byte) (sesDER []byte, err error)

// Document is what Write writes: one licence, one or more pages.
type Document struct {
	LicenceID string // the GB/T 36904 identifier, in OFD.xml as CustomData licenceId
	Title     string
	Creator   string // "certhub" when empty
	Created   time.Time
	Pages     []layout.Page
	// Font is the CJK TrueType font every text is set in; the package
	// embeds the subset of it the pages use.
	Font *Font
	// CustomData are more entries of OFD.xml's CustomDatas after licenceId
	// (an annotated copy's annotationId), in order; the seal covers them
	// like every file's content.
	CustomData []CustomData
	// Sealer makes the electronic signature. The seal is stamped in the
	// box of the first image whose Role is layout.Seal: the reader draws
	// the seal's own picture there (Signature.xml's StampAnnot), so that
	// image is not written into the page content.
	Sealer Sealer
}

// CustomData is one named entry of OFD.xml's DocInfo/CustomDatas.
type CustomData struct {
	Name  string
	Value string
}

// Validate checks what Write needs.
func (d *Document) Validate() error {
	var l errs.List
	if strings.TrimSpace(d.LicenceID) == "" {
		l.Add("licenceId", "is required")
	}
	for i, c := range d.CustomData {
		if c.Name == "" || c.Name == LicenceIDName {
			l.Add(fmt.Sprintf("customData[%d].name", i), "must be set and not %s", LicenceIDName)
		}
	}
	if d.Font == nil {
		l.Add("font", "is required (a CJK TrueType font: FindFont)")
	}
	if d.Sealer == nil {
		l.Add("sealer", "is required: certhub writes no unsealed OFD")
	}
	if d.Created.IsZero() {
		l.Add("created", "is required")
	}
	if len(d.Pages) == 0 {
		l.Add("pages", "at least one page is required")
	}
	seal := false
	for i := range d.Pages {
		if err := d.Pages[i].Validate(); err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				for _, f := range e.Fields {
					l.Add(fmt.Sprintf("pages[%d].%s", i, f.Field), "%s", f.Reason)
				}
			}
		}
		for _, im := range d.Pages[i].Images {
			if im.Role == layout.Seal {
				seal = true
			}
		}
	}
	if len(d.Pages) > 0 && !seal {
		l.Add("pages", "no image with role seal: the seal needs a place")
	}
	return l.Err()
}

type file struct {
	name string
	data []byte
}

// Write writes doc as a sealed OFD package.
func Write(w io.Writer, doc Document) error {
	if err := doc.Validate(); err != nil {
		return err
	}
	p := newPackage(doc)
	files := p.build()
	if len(p.missing) > 0 {
		var rs []string
		for r := range p.missing {
			rs = append(rs, fmt.Sprintf("%q", r))
		}
		sort.Strings(rs)
		return errs.Field("pages", "the font %s has no glyph for %s", doc.Font.Name(), strings.Join(rs, ", "))
	}
	sig := p.signatureXML(files)
	ses, err := doc.Sealer(sig)
	if err != nil {
		return fmt.Errorf("sealing %s: %w", SignaturePath, err)
	}
	var parsed signing.SESSignature
	if rest, err := asn1.Unmarshal(ses, &parsed); err != nil || len(rest) != 0 {
		return errs.Wrap(fmt.Errorf("the sealer returned no DER SES_Signature: %v", err), "ofd")
	}
	if want := sm3.Sum(sig); !bytes.Equal(parsed.ToSign.DataHash.Bytes, want[:]) {
		return errs.Wrap(errors.New("the sealer's SES_Signature does not carry SM3(Signature.xml) as dataHash"), "ofd")
	}
	files = append(files,
		file{SignaturePath, sig},
		file{SignedValuePath, ses},
		file{SealPath, parsed.ToSign.ESeal.Raw})

	z := zip.NewWriter(w)
	for _, f := range files {
		method := zip.Deflate
		if strings.HasSuffix(f.name, ".png") || strings.HasSuffix(f.name, ".dat") || strings.HasSuffix(f.name, ".esl") {
			method = zip.Store // already compressed pictures
		}
		fw, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: method, Modified: doc.Created.UTC()})
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return z.Close()
}

// pkg builds the files of one package.
type pkg struct {
	doc     Document
	ids     int
	fontID  int
	pageIDs []int
	seal    struct {
		page       int
		x, y, w, h float64
	}
	images  []file // Res/image_N.png, with their IDs
	imgIDs  []int
	missing map[rune]bool // characters the font cannot draw
}

func newPackage(doc Document) *pkg {
	if doc.Creator == "" {
		doc.Creator = defaultCreator
	}
	return &pkg{doc: doc, missing: map[rune]bool{}, seal: struct {
		page       int
		x, y, w, h float64
	}{page: -1}}
}

func (p *pkg) id() int { p.ids++; return p.ids }

// build returns every file but the signature's, in package order.
func (p *pkg) build() []file {
	p.fontID = p.id()
	for range p.doc.Pages {
		p.pageIDs = append(p.pageIDs, p.id())
	}
	used := map[rune]bool{}
	var contents []file
	for i, page := range p.doc.Pages {
		contents = append(contents, file{fmt.Sprintf("Doc_0/Pages/Page_%d/Content.xml", i), p.content(i, page, used)})
	}
	subset, err := p.doc.Font.Subset(used)
	fontData := subset
	if err != nil {
		fontData = p.doc.Font.data // a font the subsetter cannot read is embedded whole
	}
	fontFile := fmt.Sprintf("font_%d.ttf", p.fontID)

	var files []file
	files = append(files, file{EntryPath, p.ofdXML()})
	files = append(files, file{DocumentPath, p.documentXML()})
	files = append(files, file{"Doc_0/PublicRes.xml", p.publicRes(fontFile)})
	files = append(files, file{"Doc_0/DocumentRes.xml", p.documentRes()})
	files = append(files, file{"Doc_0/Res/" + fontFile, fontData})
	files = append(files, p.images...)
	files = append(files, contents...)
	files = append(files, file{SignaturesPath, p.signaturesXML()})
	return files
}

func header(b *bytes.Buffer, root string, attrs string) {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString("<ofd:" + root + ` xmlns:ofd="` + Namespace + `"` + attrs + ">")
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// num formats a length in mm to at most three decimals.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func box(x, y, w, h float64) string { return num(x) + " " + num(y) + " " + num(w) + " " + num(h) }

func (p *pkg) ofdXML() []byte {
	var b bytes.Buffer
	header(&b, "OFD", ` Version="1.0" DocType="OFD"`)
	sum := sm3.Sum([]byte(p.doc.LicenceID))
	b.WriteString("<ofd:DocBody><ofd:DocInfo>")
	b.WriteString("<ofd:DocID>" + hex.EncodeToString(sum[:16]) + "</ofd:DocID>")
	if p.doc.Title != "" {
		b.WriteString("<ofd:Title>" + esc(p.doc.Title) + "</ofd:Title>")
	}
	b.WriteString("<ofd:CreationDate>" + p.doc.Created.UTC().Format("2006-01-02") + "</ofd:CreationDate>")
	b.WriteString("<ofd:Creator>" + esc(p.doc.Creator) + "</ofd:Creator>")
	b.WriteString(`<ofd:CustomDatas><ofd:CustomData Name="` + LicenceIDName + `">` + esc(p.doc.LicenceID) + "</ofd:CustomData>")
	for _, c := range p.doc.CustomData {
		b.WriteString(`<ofd:CustomData Name="` + esc(c.Name) + `">` + esc(c.Value) + "</ofd:CustomData>")
	}
	b.WriteString("</ofd:CustomDatas>")
	b.WriteString("</ofd:DocInfo>")
	b.WriteString("<ofd:DocRoot>" + DocumentPath + "</ofd:DocRoot>")
	b.WriteString("<ofd:Signatures>" + SignaturesPath + "</ofd:Signatures>")
	b.WriteString("</ofd:DocBody></ofd:OFD>\n")
	return b.Bytes()
}

func (p *pkg) documentXML() []byte {
	var b bytes.Buffer
	header(&b, "Document", "")
	first := p.doc.Pages[0]
	b.WriteString("<ofd:CommonData><ofd:MaxUnitID>" + strconv.Itoa(p.ids) + "</ofd:MaxUnitID>")
	b.WriteString("<ofd:PageArea><ofd:PhysicalBox>" + box(0, 0, first.WidthMM, first.HeightMM) + "</ofd:PhysicalBox></ofd:PageArea>")
	b.WriteString("<ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData>")
	b.WriteString("<ofd:Pages>")
	for i, id := range p.pageIDs {
		fmt.Fprintf(&b, `<ofd:Page ID="%d" BaseLoc="Pages/Page_%d/Content.xml"/>`, id, i)
	}
	b.WriteString("</ofd:Pages></ofd:Document>\n")
	return b.Bytes()
}

func (p *pkg) publicRes(fontFile string) []byte {
	var b bytes.Buffer
	header(&b, "Res", ` BaseLoc="Res"`)
	name := esc(p.doc.Font.Name())
	fmt.Fprintf(&b, `<ofd:Fonts><ofd:Font ID="%d" FontName="%s" FamilyName="%s"><ofd:FontFile>%s</ofd:FontFile></ofd:Font></ofd:Fonts>`,
		p.fontID, name, name, fontFile)
	b.WriteString("</ofd:Res>\n")
	return b.Bytes()
}

func (p *pkg) documentRes() []byte {
	var b bytes.Buffer
	header(&b, "Res", ` BaseLoc="Res"`)
	if len(p.images) > 0 {
		b.WriteString("<ofd:MultiMedias>")
		for i, f := range p.images {
			fmt.Fprintf(&b, `<ofd:MultiMedia ID="%d" Type="Image" Format="PNG"><ofd:MediaFile>%s</ofd:MediaFile></ofd:MultiMedia>`,
				p.imgIDs[i], strings.TrimPrefix(f.name, "Doc_0/Res/"))
		}
		b.WriteString("</ofd:MultiMedias>")
	}
	b.WriteString("</ofd:Res>\n")
	return b.Bytes()
}

func (p *pkg) signaturesXML() []byte {
	var b bytes.Buffer
	header(&b, "Signatures", "")
	b.WriteString(`<ofd:MaxSignId>1</ofd:MaxSignId><ofd:Signature ID="1" Type="Seal" BaseLoc="/` + SignaturePath + `"/>`)
	b.WriteString("</ofd:Signatures>\n")
	return b.Bytes()
}

// signatureXML lists the SM3 digest of every file and where the seal is
// stamped; its own SM3 becomes the SES_Signature's dataHash.
func (p *pkg) signatureXML(files []file) []byte {
	var b bytes.Buffer
	header(&b, "Signature", "")
	b.WriteString("<ofd:SignedInfo>")
	b.WriteString(`<ofd:Provider ProviderName="certhub" Company="certhub" Version="1"/>`)
	b.WriteString("<ofd:SignatureMethod>" + SM2SignMethodOID + "</ofd:SignatureMethod>")
	b.WriteString("<ofd:SignatureDateTime>" + p.doc.Created.UTC().Format(signatureDateTime) + "</ofd:SignatureDateTime>")
	b.WriteString(`<ofd:References CheckMethod="` + SM3MethodOID + `">`)
	for _, f := range files {
		if f.name == SignaturesPath {
			continue
		}
		sum := sm3.Sum(f.data)
		b.WriteString(`<ofd:Reference FileRef="/` + esc(f.name) + `"><ofd:CheckValue>` +
			base64.StdEncoding.EncodeToString(sum[:]) + "</ofd:CheckValue></ofd:Reference>")
	}
	b.WriteString("</ofd:References>")
	s := p.seal
	fmt.Fprintf(&b, `<ofd:StampAnnot ID="1" PageRef="%d" Boundary="%s"/>`, p.pageIDs[s.page], box(s.x, s.y, s.w, s.h))
	b.WriteString("<ofd:Seal><ofd:BaseLoc>/" + SealPath + "</ofd:BaseLoc></ofd:Seal>")
	b.WriteString("</ofd:SignedInfo>")
	b.WriteString("<ofd:SignedValue>/" + SignedValuePath + "</ofd:SignedValue>")
	b.WriteString("</ofd:Signature>\n")
	return b.Bytes()
}
