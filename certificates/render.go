package certificates

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
)

// RenderData is what Render draws a licence from: the type, the
// certificate's display values by field name (built-ins included, see
// DisplayValues), the issuing authority's name (printed as authority_name
// when set), the seal picture and the
// QR code (both PNG; an empty one is left out), and an optional watermark
// (an annotated copy's "仅用于…，有效期至…").
type RenderData struct {
	Type          *Type
	Values        map[string]string
	AuthorityName string
	SealPNG       []byte
	QRPNG         []byte
	Watermark     string
}

// Render lays a licence out: tp, or the type's default layout when tp is
// nil, filled with data. The pages pass layout.Page.Validate. It returns
// errs.Invalid if tp does not fit the type.
func Render(tp *Template, data RenderData) ([]layout.Page, error) {
	t := data.Type
	if t == nil {
		return nil, errs.E(errs.Internal, "render: no certificate type")
	}
	if tp == nil {
		tp = DefaultTemplate(t)
	}
	if err := tp.Validate(t); err != nil {
		return nil, err
	}
	w, h, _ := tp.Page.MM()
	p := layout.Page{WidthMM: w, HeightMM: h, Watermark: data.Watermark}
	if bg := tp.Background; bg != nil {
		b := Box{W: w, H: h}
		if bg.Box != nil {
			b = *bg.Box
		}
		p.Images = append(p.Images, layout.Image{X: b.X, Y: b.Y, W: b.W, H: b.H, PNG: bg.PNG, Role: layout.Background})
	}
	title := tp.Title.Text
	if title == "" {
		title = t.Name
	}
	p.Texts = append(p.Texts, text(tp.Title.TextBox, title))
	for _, f := range tp.Fields {
		v := data.Values[f.Name]
		if f.Name == FieldAuthorityName && data.AuthorityName != "" {
			v = data.AuthorityName
		}
		if f.LabelBox != nil {
			p.Texts = append(p.Texts, text(*f.LabelBox, f.LabelOf(t)))
		}
		if v != "" {
			p.Texts = append(p.Texts, text(f.Value, v))
		}
	}
	if len(data.SealPNG) > 0 {
		p.Images = append(p.Images, image(tp.Seal, data.SealPNG, layout.Seal))
	}
	if len(data.QRPNG) > 0 {
		p.Images = append(p.Images, image(tp.QR, data.QRPNG, layout.QR))
	}
	if err := p.Validate(); err != nil {
		return nil, errs.Wrap(fmt.Errorf("rendered page of type %s: %w", t.Code, err), "render")
	}
	return []layout.Page{p}, nil
}

func text(b TextBox, s string) layout.Text {
	a := b.Align
	if a == "" {
		a = layout.Left
	}
	return layout.Text{X: b.X, Y: b.Y, W: b.W, H: b.H, SizeMM: b.SizeMM, Text: s, Bold: b.Bold, Align: a}
}

func image(b Box, png []byte, role layout.ImageRole) layout.Image {
	return layout.Image{X: b.X, Y: b.Y, W: b.W, H: b.H, PNG: png, Role: role}
}

// PageAdjust changes a template and the values printed with it before a
// licence is rendered (a share prints only the fields it grants). tp is
// never nil; values may be changed in place.
type PageAdjust func(tp *Template, values map[string]string) *Template

// LicencePages lays out one certificate version for a licence file: the
// type's template (or its default layout), the certificate's display
// values, the authority's name and seal picture, the QR code, and the
// watermark, if any; adjust, when not nil, changes what is printed.
func (s *Service) LicencePages(ctx context.Context, c *Certificate, qrPNG []byte, watermark string, adjust PageAdjust) ([]layout.Page, error) {
	t, err := s.Type(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	a, err := s.Authority(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	tp, _, err := s.TypeTemplate(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	_, seal, err := s.SealImage(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	values := DisplayValues(c, t, a.Name, s.Location)
	if adjust != nil {
		if tp == nil {
			tp = DefaultTemplate(t)
		}
		tp = adjust(tp, values)
	}
	return Render(tp, RenderData{Type: t, Values: values, AuthorityName: a.Name, SealPNG: seal, QRPNG: qrPNG, Watermark: watermark})
}

// DefaultTemplate is the layout of a type without a template: A4
// portrait, the type's name centred at the top, a "label  value" row for
// the holder, every type field, the validity and the identifier, the QR
// code bottom left, and the authority's name and issue date bottom right
// with the seal box over them, as on a paper licence.
func DefaultTemplate(t *Type) *Template {
	tp := &Template{
		Page:  A4Portrait,
		Title: Title{TextBox: TextBox{Box: Box{X: 15, Y: 28, W: 180, H: 14}, SizeMM: 10, Align: layout.Center, Bold: true}},
		QR:    Box{X: 25, Y: 222, W: 36, H: 36},
		Seal:  Box{X: 127.5, Y: 222, W: 40, H: 40},
	}
	rows := []string{FieldHolderName, FieldHolderID}
	for _, f := range t.Fields {
		rows = append(rows, f.Name)
	}
	rows = append(rows, FieldValidFrom, FieldValidUntil, FieldIdentifier)
	// Rows share 60–205 mm; many fields make them smaller, never off the page.
	const top, area = 60.0, 145.0
	step := math.Min(11, area/float64(len(rows)))
	boxH := step * 0.9
	size := math.Min(5, boxH*0.8)
	for i, name := range rows {
		y := top + float64(i)*step
		tp.Fields = append(tp.Fields, TemplateField{
			Name:     name,
			LabelBox: &TextBox{Box: Box{X: 20, Y: y, W: 50, H: boxH}, SizeMM: size, Align: layout.Right, Bold: true},
			Value:    TextBox{Box: Box{X: 75, Y: y, W: 115, H: boxH}, SizeMM: size},
		})
	}
	tp.Fields = append(tp.Fields,
		TemplateField{Name: FieldAuthorityName, Value: TextBox{Box: Box{X: 100, Y: 238, W: 95, H: 8}, SizeMM: 5, Align: layout.Center}},
		TemplateField{Name: FieldIssuedAt, Value: TextBox{Box: Box{X: 100, Y: 248, W: 95, H: 8}, SizeMM: 5, Align: layout.Center}},
	)
	return tp
}

// DisplayValues are a certificate's values as a licence prints them, by
// field name, built-ins included: dates as 2026年03月01日, an open end as
// 长期, booleans as 是/否, an organisation's USCC in full and a person's
// citizen ID masked (MaskID). loc is the hub's time zone (issue date).
func DisplayValues(c *Certificate, t *Type, authorityName string, loc *time.Location) map[string]string {
	v := map[string]string{
		FieldHolderName:    c.Holder.Name,
		FieldHolderID:      c.Holder.ID,
		FieldIdentifier:    c.ID,
		FieldValidFrom:     chineseDate(c.ValidFrom),
		FieldValidUntil:    chineseDate(c.ValidUntil),
		FieldAuthorityName: authorityName,
	}
	if c.Holder.Kind == Person {
		v[FieldHolderID] = MaskID(c.Holder.ID)
	}
	if c.ValidUntil.IsZero() {
		v[FieldValidUntil] = "长期"
	}
	if !c.IssuedAt.IsZero() {
		if loc == nil {
			loc = time.UTC
		}
		v[FieldIssuedAt] = chineseDate(DateOf(c.IssuedAt, loc))
	}
	for _, f := range t.Fields {
		if x, ok := c.Data[f.Name]; ok && x != nil {
			v[f.Name] = displayValue(f.Type, x)
		}
	}
	return v
}

func displayValue(ft FieldType, x any) string {
	switch x := x.(type) {
	case string:
		if ft == FieldDate {
			if d, err := ParseDate(x); err == nil {
				return chineseDate(d)
			}
		}
		return x
	case bool:
		if x {
			return "是"
		}
		return "否"
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(x)
}

func chineseDate(d Date) string {
	if d.IsZero() {
		return ""
	}
	s := d.String() // YYYY-MM-DD
	return s[:4] + "年" + s[5:7] + "月" + s[8:10] + "日"
}

// MaskID hides the middle of a citizen ID number, keeping the first six
// characters (the place of registration) and the last four, as printed
// licences and receipts do: 330102********1234. Short ids keep only their
// last character.
func MaskID(id string) string {
	r := []rune(id)
	switch {
	case len(r) == 0:
		return ""
	case len(r) >= 12:
		return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
	}
	return strings.Repeat("*", len(r)-1) + string(r[len(r)-1:])
}

// SampleValues are made-up values for every field a type's licence may
// print, for previews of its template.
func SampleValues(t *Type) map[string]string {
	v := map[string]string{
		FieldHolderName:    "示例有限公司",
		FieldHolderID:      "91330100MA2XXXXXX0",
		FieldIdentifier:    Identifier{TypeCode: t.Code, Issuer: t.DefiningAuthority, Serial: "000001", Version: 1}.String(),
		FieldValidFrom:     "2026年01月01日",
		FieldValidUntil:    "2030年12月31日",
		FieldIssuedAt:      "2026年01月01日",
		FieldAuthorityName: "示例发证机关",
	}
	if t.HolderKind == Person {
		v[FieldHolderName] = "张三"
		v[FieldHolderID] = MaskID("330102199001011234")
	}
	for _, f := range t.Fields {
		switch f.Type {
		case FieldDate:
			v[f.Name] = "2026年01月01日"
		case FieldNumber:
			v[f.Name] = "100"
		case FieldBoolean:
			v[f.Name] = "是"
		default:
			v[f.Name] = "示例" + f.Label
		}
	}
	return v
}
