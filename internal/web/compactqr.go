package web

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/qr"
)

// compactView is a compact signed QR as a page shows it: the picture
// inline (so the count beside it is of exactly this code), its size, and
// the fields it carries.
type compactView struct {
	CertificateID string
	Text          string
	Image         template.URL // data:image/svg+xml
	Characters    int
	Budget        int
	Fields        []string // the fields' labels
	Chosen        []string // the field names the holder ticked
	Error         string   // why none was made (a person can act on it)
}

// compactQR makes a compact QR of c for a page, and its picture when
// image is set (drawing it costs far more than making the code: choosing
// the QR mask is most of a share view's time, so an answer that carries
// only the text does not draw it). A refusal a person can act on (too many
// fields, a licence that is not valid, no usable key) comes back in Error;
// only a failure of the hub itself is an error.
func (s *Server) compactQR(ctx context.Context, c *certificates.Certificate, t *certificates.Type, req exchange.CompactRequest, image bool) (*compactView, error) {
	v := &compactView{CertificateID: c.ID, Budget: exchange.CompactQRBudget, Chosen: req.Fields}
	code, err := (&exchange.CompactQRs{Certs: s.Certs, PublicURL: s.PublicURL}).Make(ctx, c, req)
	var e *errs.Error
	if errors.As(err, &e) && e.Code != errs.Internal && e.Code != errs.Unavailable {
		v.Error = e.Message
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	if image {
		svg, err := qr.AlphanumericSVG(code.Text, 4) // 4 px a module, as printed
		if err != nil {
			return nil, err
		}
		v.Image = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg))
	}
	v.Text, v.Characters = code.Text, len(code.Text)
	for _, name := range code.Fields {
		if f, ok := t.Field(name); ok {
			v.Fields = append(v.Fields, f.Label)
		}
	}
	return v, nil
}
