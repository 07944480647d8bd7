// Package pdf writes a licence as a signed PDF: the pages of the layout
// model drawn with an embedded subset of a CJK TrueType font, then signed
// over the whole file with the authority's ES256 seal key and its X.509
// chain (adbe.pkcs7.detached, a CMS signature poppler, Acrobat and other
// readers check). docs/pdf.md says what the file holds and how to check it.
package pdf

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/sfnt"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
)

// Document is one licence to write.
type Document struct {
	// LicenceID is the GB/T 36904 identifier: the PDF's Subject and its
	// custom information entry licenceId, so software finds it without
	// reading the page.
	LicenceID string
	Title     string
	Author    string // the issuing authority
	Creator   string // the application, "certhub" when empty
	Created   time.Time
	Pages     []layout.Page
	Font      *Font
	Signer    Signer
	// Custom are more custom entries of the document information after
	// licenceId (an annotated copy's annotationId), in order; inside the
	// signed range like the rest of the file.
	Custom []Info
}

// Info is one custom entry of the document information dictionary.
type Info struct {
	Name  string // a PDF name: ASCII letters, digits, '_' and '-'
	Value string
}

// Signer is who signs the file: an ECDSA P-256 (or RSA) key behind a
// crypto.Signer and its certificate chain, the key's certificate first
// (signing.Manager.PDFSigner hands out both).
type Signer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
	// Reason and Location go in the signature dictionary; optional, and
	// printable ASCII only (other text is left out: see signPDF).
	Reason   string
	Location string
}

// Font is a parsed TrueType font. Parsing a CJK font (megabytes of glyphs)
// costs far more than drawing a licence, so a Font is parsed once and
// shared; each document embeds only the glyphs it uses. Safe for
// concurrent use.
type Font struct {
	fonts  *gopdf.FontContainer
	family string
}

// subsetTag starts the embedded font's name: a PDF names a font subset
// TAG+Name with six capital letters (ISO 32000-1 §9.6.4), which tells
// readers (and pdffonts' "sub" column) that only some glyphs are there.
const subsetTag = "CERTHB+"

// NewFont parses TrueType font bytes (.ttf; a .ttc collection is not
// accepted). The font should hold CJK, Latin and digits.
func NewFont(ttf []byte) (*Font, error) {
	if len(ttf) >= 4 && string(ttf[:4]) == "ttcf" {
		return nil, errs.E(errs.Invalid, "font is a TrueType collection (.ttc); give a single .ttf font")
	}
	family := subsetTag + postScriptName(ttf)
	fc := &gopdf.FontContainer{}
	if err := fc.AddTTFFontData(family, ttf); err != nil {
		return nil, errs.Wrap(err, "parse TrueType font")
	}
	return &Font{fonts: fc, family: family}, nil
}

// Validate checks what Write needs, listing every problem.
func (d *Document) Validate() error {
	var l errs.List
	if d.LicenceID == "" {
		l.Add("licence_id", "is required")
	}
	if len(d.Pages) == 0 {
		l.Add("pages", "a document has at least one page")
	}
	for i := range d.Pages {
		if err := d.Pages[i].Validate(); err != nil {
			l.Add(fmt.Sprintf("pages[%d]", i), "%v", err)
		}
	}
	for i, c := range d.Custom {
		if !infoName(c.Name) || c.Name == "licenceId" {
			l.Add(fmt.Sprintf("custom[%d].name", i), "must be ASCII letters, digits, _ or - and not licenceId, got %q", c.Name)
		}
	}
	if d.Font == nil {
		l.Add("font", "is required (a CJK TrueType font)")
	}
	if d.Signer.Key == nil || len(d.Signer.Chain) == 0 {
		l.Add("signer", "a key and its certificate chain are required")
	}
	return l.Err()
}

// Write renders doc, signs it and writes the signed PDF to w.
func Write(w io.Writer, doc Document) error {
	if err := doc.Validate(); err != nil {
		return err
	}
	unsigned, err := render(&doc)
	if err != nil {
		return err
	}
	return signPDF(w, unsigned, &doc)
}

// mmPerPt converts: layout measures fonts in mm, PDF in points.
const mmPerPt = 25.4 / 72

// Watermark colour: light grey, readable on paper and over a background,
// without hiding the text drawn over it.
const watermarkGrey = 200

func render(doc *Document) ([]byte, error) {
	gp := &gopdf.GoPdf{}
	first := doc.Pages[0]
	gp.Start(gopdf.Config{Unit: gopdf.UnitMM, PageSize: gopdf.Rect{W: first.WidthMM, H: first.HeightMM}})
	family := doc.Font.family
	if err := gp.AddTTFFontFromFontContainer(family, doc.Font.fonts); err != nil {
		return nil, errs.Wrap(err, "embed font")
	}
	creator := doc.Creator
	if creator == "" {
		creator = "certhub"
	}
	gp.SetInfo(gopdf.PdfInfo{Title: doc.Title, Author: doc.Author, Subject: doc.LicenceID, Creator: creator,
		Producer: "certhub", CreationDate: doc.Created})
	for i := range doc.Pages {
		p := &doc.Pages[i]
		gp.AddPageWithOption(gopdf.PageOption{PageSize: &gopdf.Rect{W: p.WidthMM, H: p.HeightMM}})
		if err := drawPage(gp, family, p); err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
	}
	var b bytes.Buffer
	if err := gp.Write(&b); err != nil {
		return nil, errs.Wrap(err, "write PDF")
	}
	return withInfo(b.Bytes(), append([]Info{{"licenceId", doc.LicenceID}}, doc.Custom...))
}

// drawPage draws, bottom to top: background pictures, the watermark, the
// texts, then the seal and the QR code (a seal is stamped over the
// authority's name and date, as on paper).
func drawPage(gp *gopdf.GoPdf, family string, p *layout.Page) error {
	for _, im := range p.Images {
		if im.Role == layout.Background {
			if err := image(gp, im); err != nil {
				return err
			}
		}
	}
	if p.Watermark != "" {
		if err := watermark(gp, family, p); err != nil {
			return err
		}
	}
	gp.SetTextColor(0, 0, 0)
	for i, t := range p.Texts {
		if err := text(gp, family, t); err != nil {
			return fmt.Errorf("texts[%d]: %w", i, err)
		}
	}
	for _, im := range p.Images {
		if im.Role != layout.Background {
			if err := image(gp, im); err != nil {
				return err
			}
		}
	}
	return nil
}

func text(gp *gopdf.GoPdf, family string, t layout.Text) error {
	if t.Text == "" {
		return nil
	}
	if err := gp.SetFont(family, "", t.SizeMM/mmPerPt); err != nil {
		return errs.Wrap(err, "set font")
	}
	if w, err := gp.MeasureTextWidth(t.Text); err == nil && w > t.W {
		// Never past the box (layout.Text): a long value is set smaller.
		if err := gp.SetFont(family, "", t.SizeMM/mmPerPt*t.W/w); err != nil {
			return errs.Wrap(err, "set font")
		}
	}
	align := gopdf.Left
	switch t.Align {
	case layout.Center:
		align = gopdf.Center
	case layout.Right:
		align = gopdf.Right
	}
	gp.SetXY(t.X, t.Y)
	// Bold: the CJK fonts Debian ships have no bold face; the text is
	// drawn in the regular face (a template marks emphasis by size).
	if err := gp.CellWithOption(&gopdf.Rect{W: t.W, H: t.H}, t.Text, gopdf.CellOption{Align: align | gopdf.Middle}); err != nil {
		return errs.Wrap(err, "draw text %q", t.Text)
	}
	return nil
}

func image(gp *gopdf.GoPdf, im layout.Image) error {
	h, err := gopdf.ImageHolderByBytes(im.PNG)
	if err != nil {
		return errs.Wrap(err, "%s picture", im.Role)
	}
	if err := gp.ImageByHolder(h, im.X, im.Y, &gopdf.Rect{W: im.W, H: im.H}); err != nil {
		return errs.Wrap(err, "draw %s picture", im.Role)
	}
	return nil
}

// watermark writes the text three times parallel to the page's rising
// diagonal: through the centre and halfway to each corner, all in one size
// that fits the shorter outer lines, so that cropping or cutting a corner
// off the page still leaves it legible.
func watermark(gp *gopdf.GoPdf, family string, p *layout.Page) error {
	diag := math.Hypot(p.WidthMM, p.HeightMM)
	reach := p.WidthMM * p.HeightMM / diag // from the diagonal to a corner
	const probe = 10.0                     // mm
	if err := gp.SetFont(family, "", probe/mmPerPt); err != nil {
		return errs.Wrap(err, "set font")
	}
	w, err := gp.MeasureTextWidth(p.Watermark)
	if err != nil {
		return errs.Wrap(err, "measure watermark")
	}
	// A line halfway to the corner is half the diagonal long.
	size := math.Min(p.WidthMM, p.HeightMM) / 10
	if w > 0 {
		size = math.Min(size, probe*0.85*(diag/2)/w)
	}
	if err := gp.SetFont(family, "", size/mmPerPt); err != nil {
		return errs.Wrap(err, "set font")
	}
	gp.SetTextColor(watermarkGrey, watermarkGrey, watermarkGrey)
	angle := math.Atan2(p.HeightMM, p.WidthMM) * 180 / math.Pi
	cx, cy := p.WidthMM/2, p.HeightMM/2
	gp.Rotate(angle, cx, cy)
	defer gp.RotateReset()
	for _, off := range []float64{-reach / 2, 0, reach / 2} {
		// The page's chord parallel to the diagonal at this offset has its
		// middle on the line from the centre to the nearer corner: slide
		// along the line to it.
		along := off / reach * (p.WidthMM*p.WidthMM - p.HeightMM*p.HeightMM) / (2 * diag)
		gp.SetXY(cx-diag/2+along, cy+off-size)
		if err := gp.CellWithOption(&gopdf.Rect{W: diag, H: 2 * size}, p.Watermark, gopdf.CellOption{Align: gopdf.Center | gopdf.Middle}); err != nil {
			return errs.Wrap(err, "draw watermark")
		}
	}
	return nil
}

// withInfo adds custom entries (licenceId first) to the document
// information dictionary, which gopdf writes inline in the trailer (after
// the cross-reference table, so no offset moves) and has no field for.
func withInfo(pdf []byte, entries []Info) ([]byte, error) {
	i := bytes.LastIndex(pdf, []byte("/Info <<\n"))
	if i < 0 {
		return nil, errs.E(errs.Internal, "PDF writer wrote no information dictionary")
	}
	i += len("/Info <<\n")
	var add bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&add, "/%s %s\n", e.Name, pdfText(e.Value))
	}
	out := make([]byte, 0, len(pdf)+add.Len())
	out = append(out, pdf[:i]...)
	out = append(out, add.Bytes()...)
	return append(out, pdf[i:]...), nil
}

// infoName reports whether s may be written as a PDF name unescaped.
func infoName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-')) {
			return false
		}
	}
	return true
}

// pdfText is a PDF text string: UTF-16BE with a byte order mark, in hex.
func pdfText(s string) string {
	var b bytes.Buffer
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

// postScriptName is the font's PostScript name (name ID 6), keeping the
// characters a PDF name may hold unescaped; "CJKFont" if it has none.
func postScriptName(ttf []byte) string {
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return "CJKFont"
	}
	n, err := f.Name(nil, sfnt.NameIDPostScript)
	if err != nil {
		return "CJKFont"
	}
	n = strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return r
		}
		return -1
	}, n)
	if n == "" {
		return "CJKFont"
	}
	return n
}
