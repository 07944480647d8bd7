// Package layout is the page model a licence file is drawn from: a page
// in millimetres with positioned text and images, made from a type's
// template (the department's 电子化模板) and a certificate, and written out
// by the file writers (OFD, PDF). It knows no file format; the writers know
// no certificate.
package layout

import (
	"fmt"

	"github.com/certhub/certhub/internal/errs"
)

// Page is one page, measured in millimetres from its top-left corner.
type Page struct {
	WidthMM  float64 `json:"width_mm"`
	HeightMM float64 `json:"height_mm"`
	Texts    []Text  `json:"texts"`
	Images   []Image `json:"images"`
	// Watermark, when set, is drawn across the page under everything else
	// (an annotated copy's "仅用于…，有效期至…").
	Watermark string `json:"watermark,omitempty"`
}

// Align says where a text sits in its box.
type Align string

// Alignments.
const (
	Left   Align = "left"
	Center Align = "center"
	Right  Align = "right"
)

// Text is a run of text in a box; it is drawn on one line at SizeMM (the
// em height, as OFD measures fonts) and never wraps: a template leaves room,
// and a writer sets a text wider than its box smaller until it fits, so
// nothing is ever cut off or drawn past the box.
type Text struct {
	X, Y, W, H float64 // box, mm
	SizeMM     float64 // font size, mm (1 pt = 0.3528 mm)
	Text       string
	Bold       bool
	Align      Align
}

// ImageRole says what an image is, so writers and verifiers can find the
// seal and the QR code.
type ImageRole string

// Image roles.
const (
	Seal       ImageRole = "seal"
	QR         ImageRole = "qr"
	Background ImageRole = "background"
)

// Image is a PNG drawn into a box.
type Image struct {
	X, Y, W, H float64 // box, mm
	PNG        []byte
	Role       ImageRole
}

// Standard page sizes, mm.
var (
	A4Portrait  = [2]float64{210, 297}
	A4Landscape = [2]float64{297, 210}
	Card        = [2]float64{85.6, 54} // ID-1, the size of an ID card
)

// Validate checks that every box lies on the page and has a size, and that
// there is something to draw.
func (p *Page) Validate() error {
	var l errs.List
	if p.WidthMM <= 0 || p.HeightMM <= 0 || p.WidthMM > 1000 || p.HeightMM > 1000 {
		l.Add("page", "size %gx%g mm is not a page", p.WidthMM, p.HeightMM)
	}
	box := func(field string, x, y, w, h float64) {
		switch {
		case w <= 0 || h <= 0:
			l.Add(field, "has no size (%gx%g mm)", w, h)
		case x < 0 || y < 0 || x+w > p.WidthMM+1e-9 || y+h > p.HeightMM+1e-9:
			l.Add(field, "box %g,%g %gx%g mm overlaps the page edge (%gx%g mm)", x, y, w, h, p.WidthMM, p.HeightMM)
		}
	}
	for i, t := range p.Texts {
		box(fmt.Sprintf("texts[%d]", i), t.X, t.Y, t.W, t.H)
		if t.SizeMM <= 0 || t.SizeMM > t.H+1e-9 {
			l.Add(fmt.Sprintf("texts[%d].size_mm", i), "must be above 0 and fit the box height %g mm", t.H)
		}
	}
	for i, im := range p.Images {
		box(fmt.Sprintf("images[%d]", i), im.X, im.Y, im.W, im.H)
		if len(im.PNG) == 0 {
			l.Add(fmt.Sprintf("images[%d]", i), "has no picture")
		}
	}
	if len(p.Texts) == 0 && len(p.Images) == 0 {
		l.Add("page", "has nothing on it")
	}
	return l.Err()
}
