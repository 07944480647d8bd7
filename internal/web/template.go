package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/layout"
)

// templatePreview is the preview page of a type's template: the licence
// laid out by certificates.Render with sample values, drawn as inline SVG
// in millimetres (one SVG unit is one mm of the page).
type templatePreview struct {
	Type    *certificates.Type
	Default bool
	Page    certificates.PageSize
	W, H    float64
	Texts   []svgText
	Images  []svgImage
	Fields  []previewField
}

type svgText struct {
	X, Y, Size   float64
	BoxX, BoxY   float64
	BoxW, BoxH   float64
	Anchor, Text string
	Bold         bool
}

type svgImage struct {
	X, Y, W, H float64
	CX, CY     float64 // centre, for the placeholder's label
	Role       string
	// Href is the picture on the hub (CSP img-src 'self'); empty draws a
	// placeholder (the QR code, which depends on the licence).
	Href string
}

type previewField struct{ Name, Label string }

// typeRow is a line of the types page.
type typeRow struct {
	Code, Name, Authority string
	Fields                int
	Template              bool
}

// typesPage lists the certificate types, each with whether its department
// supplied a template and a link to the preview.
func (s *Server) typesPage(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Certs.Store.ListTypes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]typeRow, 0, len(ts))
	for _, t := range ts {
		_, stored, err := s.Certs.TypeTemplate(r.Context(), t.Code)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		row := typeRow{Code: t.Code, Name: t.Name, Authority: t.DefiningAuthority, Fields: len(t.Fields), Template: stored}
		if a, err := s.Certs.Authority(r.Context(), t.DefiningAuthority); err == nil {
			row.Authority = a.Name
		}
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, "types", "types", rows)
}

// templatePage shows how a licence of the type looks.
func (s *Server) templatePage(w http.ResponseWriter, r *http.Request) {
	code := chi.URLParam(r, "code")
	t, err := s.Certs.Type(r.Context(), code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tp, stored, err := s.Certs.TypeTemplate(r.Context(), code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The defining authority's name and seal stand for the issuer's.
	authority := ""
	if a, err := s.Certs.Authority(r.Context(), t.DefiningAuthority); err == nil {
		authority = a.Name
	}
	// Placeholder bytes: Render needs a picture to place the seal and QR
	// boxes; the SVG points at the hub's copies instead.
	pages, err := certificates.Render(tp, certificates.RenderData{Type: t, Values: certificates.SampleValues(t), AuthorityName: authority,
		SealPNG: []byte("seal"), QRPNG: []byte("qr")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := pages[0]
	v := templatePreview{Type: t, Default: !stored, Page: tp.Page, W: p.WidthMM, H: p.HeightMM}
	for _, tx := range p.Texts {
		st := svgText{BoxX: tx.X, BoxY: tx.Y, BoxW: tx.W, BoxH: tx.H, X: tx.X, Y: tx.Y + tx.H/2, Size: tx.SizeMM, Text: tx.Text, Bold: tx.Bold, Anchor: "start"}
		switch tx.Align {
		case layout.Center:
			st.X, st.Anchor = tx.X+tx.W/2, "middle"
		case layout.Right:
			st.X, st.Anchor = tx.X+tx.W, "end"
		}
		v.Texts = append(v.Texts, st)
	}
	for _, im := range p.Images {
		si := svgImage{X: im.X, Y: im.Y, W: im.W, H: im.H, CX: im.X + im.W/2, CY: im.Y + im.H/2, Role: string(im.Role)}
		switch im.Role {
		case layout.Seal:
			si.Href = "/api/v1/authorities/" + t.DefiningAuthority + "/seal"
		case layout.Background:
			si.Href = "/admin/types/" + code + "/template/background.png"
		}
		v.Images = append(v.Images, si)
	}
	for _, f := range tp.Fields {
		v.Fields = append(v.Fields, previewField{Name: f.Name, Label: f.LabelOf(t)})
	}
	s.render(w, r, http.StatusOK, "type_template", "template_preview", v)
}

// templateBackground serves a template's artwork to its preview.
func (s *Server) templateBackground(w http.ResponseWriter, r *http.Request) {
	tp, stored, err := s.Certs.TypeTemplate(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !stored || tp.Background == nil {
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(tp.Background.PNG)))
	w.Header().Set("Cache-Control", "private, no-cache")
	_, _ = w.Write(tp.Background.PNG)
}
