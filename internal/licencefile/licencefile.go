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
	// AnnotationID is an annotated copy's id, written beside licenceId as
	// annotationId (OFD.xml CustomData, PDF custom information), under
	// the seal; verification looks the copy up by it.
	AnnotationID string
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
	tp, _, err := m.Certs.TypeTemplate(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	_, seal, err := m.Certs.SealImage(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	code, err := qr.PNG(m.PublicURL+"/verify?id="+url.QueryEscape(c.ID), 8)
	if err != nil {
		return nil, err
	}
	pages, err := certificates.Render(tp, certificates.RenderData{Type: t, AuthorityName: a.Name, SealPNG: seal, QRPNG: code,
		Values: certificates.DisplayValues(c, t, a.Name, m.Certs.Location), Watermark: o.Watermark})
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
			Signer: pdf.Signer{Key: key, Chain: chain, Reason: "电子证照 " + c.ID, Location: a.Name}})
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
