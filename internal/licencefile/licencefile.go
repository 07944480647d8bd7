// Package licencefile makes the licence as a file: a certificate version
// laid out by its type's template (certificates.Render), with the issuing
// authority's seal picture and a QR code that opens the clerk's page on it,
// written as an OFD sealed with the authority's GB/T 38540 SM2 e-seal
// (internal/ofd) or as a PDF signed by its ES256 seal key (internal/pdf).
// One identifier in every form: the QR, the printed page, the OFD's
// licenceId and the PDF's Subject.
package licencefile

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/pdf"
	"github.com/certhub/certhub/internal/qr"
)

// Format is a licence file format.
type Format string

// Formats.
const (
	OFD Format = "ofd"
	PDF Format = "pdf"
)

// ParseFormat validates the format query parameter.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case OFD, PDF:
		return Format(s), nil
	}
	return "", errs.Field("format", "must be ofd or pdf, got %q", s)
}

// ContentType is the file's media type.
func (f Format) ContentType() string {
	if f == OFD {
		return "application/ofd"
	}
	return "application/pdf"
}

// File is a made licence file.
type File struct {
	Format      Format
	Name        string // file name for Content-Disposition
	ContentType string
	Data        []byte
}

// Maker makes licence files. Fonts are loaded on first use, so a hub
// without a CJK font still starts; asking it for a file then says what to
// install (503 unavailable: the operator's to fix, not the caller's).
type Maker struct {
	Certs *certificates.Service
	// PublicURL is where people reach the hub; the QR code holds
	// PublicURL/verify?id=<identifier>.
	PublicURL string
	// Font is the configured CJK TrueType font file; empty looks for an
	// installed one (fonts-arphic-gbsn00lp, fonts-lxgw-wenkai).
	Font string

	// Annotations says whether an annotated copy (加注件) may still be
	// used; Verify asks it about a file that is one. Nil: such a file is
	// refused as unknown.
	Annotations interface {
		Check(ctx context.Context, id string) (reason string, err error)
	}

	once    sync.Once
	ofdFont *ofd.Font
	pdfFont *pdf.Font
	fontErr error
}

func (m *Maker) fonts() error {
	m.once.Do(func() {
		path, err := ofd.FindFont(m.Font)
		if err != nil {
			m.fontErr = err
			return
		}
		if m.ofdFont, err = ofd.LoadFont(path); err != nil {
			m.fontErr = err
			return
		}
		m.pdfFont, m.fontErr = pdf.LoadFont(path)
	})
	if m.fontErr != nil {
		return &errs.Error{Code: errs.Unavailable, Message: "licence files need a CJK TrueType font", Err: m.fontErr}
	}
	return nil
}

// Options change what is printed on a file.
type Options struct {
	// Watermark is printed across every page (an annotated copy's purpose
	// and expiry); the signature covers it.
	Watermark string
	// Shared, when set, prints only what a share grants (the share page's
	// PDF). Nil prints the whole licence.
	Shared *SharedView

	// AnnotationID is an annotated copy's id, written beside licenceId as
	// annotationId (OFD.xml CustomData, PDF custom information), under
	// the seal; verification looks the copy up by it.
	AnnotationID string
}

// Annotated is what an annotated copy's file prints and carries: its
// watermark and its id. The API and the wallet both make copies with it,
// so a copy reads the same whichever way it was downloaded.
func Annotated(a *exchange.Annotation) Options {
	return Options{Watermark: a.Watermark(), AnnotationID: a.ID}
}

// SharedView is what a share lets a file show: the type fields it grants
// and whether the holder's name is shown in full.
//
// A field not granted loses its whole row, label and value: a label over
// an empty box would read as "this licence has no such value", which is
// false, and says which fields were held back. This is also what the share
// page does: it lists only the shared fields. Of the built-ins, the
// licence's identity and validity (identifier, valid_from, valid_until,
// authority_name, issued_at) are kept, as on the share page; the holder's
// name is masked unless ShowName; the holder's ID number is never printed.
type SharedView struct {
	Fields   []string
	ShowName bool
}

// sharedBuiltins are the built-ins a shared file keeps. A built-in added
// later is left out until someone decides it may be shared.
var sharedBuiltins = map[string]bool{
	certificates.FieldHolderName: true, certificates.FieldIdentifier: true, certificates.FieldValidFrom: true,
	certificates.FieldValidUntil: true, certificates.FieldAuthorityName: true, certificates.FieldIssuedAt: true,
}

// restrict returns a copy of tp with only the rows v grants, and masks the
// holder's name in values unless v shows it.
func (v *SharedView) restrict(tp *certificates.Template, c *certificates.Certificate, values map[string]string) *certificates.Template {
	keep := map[string]bool{}
	for name := range sharedBuiltins {
		keep[name] = true
	}
	for _, name := range v.Fields {
		keep[name] = true
	}
	out := *tp
	out.Fields = nil
	for _, f := range tp.Fields {
		if keep[f.Name] {
			out.Fields = append(out.Fields, f)
		}
	}
	for name := range values {
		if !keep[name] {
			delete(values, name)
		}
	}
	if !v.ShowName {
		values[certificates.FieldHolderName] = certificates.MaskName(c.Holder.Kind, c.Holder.Name)
	}
	return &out
}

// Make writes the certificate version c as a licence file. An authority
// without the key a format needs gets errs.Conflict saying what to
// configure: an SM2 key for OFD, an ES256 key for PDF. Nothing is written
// unsealed.
func (m *Maker) Make(ctx context.Context, c *certificates.Certificate, f Format, o Options) (*File, error) {
	if err := m.fonts(); err != nil {
		return nil, err
	}
	t, err := m.Certs.Type(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	a, err := m.Certs.Authority(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	code, err := qr.PNG(m.PublicURL+"/verify?id="+url.QueryEscape(c.ID), 8)
	if err != nil {
		return nil, err
	}
	var adjust certificates.PageAdjust
	if o.Shared != nil {
		adjust = func(tp *certificates.Template, values map[string]string) *certificates.Template {
			return o.Shared.restrict(tp, c, values)
		}
	}
	pages, err := m.Certs.LicencePages(ctx, c, code, o.Watermark, adjust)
	if err != nil {
		return nil, err
	}
	created := c.IssuedAt
	if created.IsZero() {
		created = time.Now()
	}
	var buf bytes.Buffer
	switch f {
	case OFD:
		var custom []ofd.CustomData
		if o.AnnotationID != "" {
			custom = []ofd.CustomData{{Name: ofd.AnnotationIDName, Value: o.AnnotationID}}
		}
		err = ofd.Write(&buf, ofd.Document{LicenceID: c.ID, Title: t.Name, Created: created, Pages: pages, Font: m.ofdFont, CustomData: custom,
			Sealer: func(signatureXML []byte) ([]byte, error) {
				return m.Certs.ESeal(ctx, c.Authority, signatureXML, ofd.SignaturePath)
			}})
	case PDF:
		key, chain, perr := m.Certs.Keys.PDFSigner(ctx, c.Authority)
		if perr != nil {
			return nil, perr
		}
		var custom []pdf.Info
		if o.AnnotationID != "" {
			custom = []pdf.Info{{Name: ofd.AnnotationIDName, Value: o.AnnotationID}}
		}
		err = pdf.Write(&buf, pdf.Document{LicenceID: c.ID, Title: t.Name, Author: a.Name, Created: created, Pages: pages, Font: m.pdfFont, Custom: custom,
			Signer: pdf.Signer{Key: key, Chain: chain, Reason: "e-licence " + c.ID, Location: c.Authority}})
	default:
		return nil, errs.Field("format", "must be ofd or pdf, got %q", f)
	}
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s.%s", c.ID, f)
	if o.AnnotationID != "" {
		name = fmt.Sprintf("%s.%s.%s", c.ID, o.AnnotationID, f)
	}
	return &File{Format: f, Name: name, ContentType: f.ContentType(), Data: buf.Bytes()}, nil
}
