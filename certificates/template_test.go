package certificates_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
)

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDefaultTemplateRendersEveryDemoType: the default layout of every
// demo type is a valid template and renders to a page the writers accept,
// with the title, every field's label and value, the seal and the QR.
func TestDefaultTemplateRendersEveryDemoType(t *testing.T) {
	seal, qr := testPNG(t, 64, 64), testPNG(t, 33, 33)
	for _, ty := range demo.Types() {
		t.Run(ty.Name, func(t *testing.T) {
			tp := certificates.DefaultTemplate(ty)
			if err := tp.Validate(ty); err != nil {
				t.Fatalf("default template invalid: %v", err)
			}
			pages, err := certificates.Render(nil, certificates.RenderData{Type: ty, Values: certificates.SampleValues(ty),
				AuthorityName: "杭州市市场监督管理局", SealPNG: seal, QRPNG: qr, Watermark: "仅用于办理银行开户，有效期至2026年06月30日"})
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != 1 {
				t.Fatalf("%d pages", len(pages))
			}
			p := pages[0]
			if err := p.Validate(); err != nil {
				t.Fatalf("page invalid: %v", err)
			}
			if p.WidthMM != 210 || p.HeightMM != 297 || p.Watermark == "" {
				t.Fatalf("page %gx%g watermark %q", p.WidthMM, p.HeightMM, p.Watermark)
			}
			var all []string
			for _, tx := range p.Texts {
				all = append(all, tx.Text)
			}
			joined := strings.Join(all, "|")
			if p.Texts[0].Text != ty.Name || p.Texts[0].Align != layout.Center {
				t.Errorf("title = %+v", p.Texts[0])
			}
			for _, f := range ty.Fields {
				if !strings.Contains(joined, f.Label) || !strings.Contains(joined, "示例"+f.Label) && f.Type == certificates.FieldString {
					t.Errorf("field %s (%s) not printed: %s", f.Name, f.Label, joined)
				}
			}
			for _, want := range []string{"杭州市市场监督管理局", "证照标识", "有效期至", "2030年12月31日"} {
				if !strings.Contains(joined, want) {
					t.Errorf("%q not printed: %s", want, joined)
				}
			}
			var roles []layout.ImageRole
			for _, im := range p.Images {
				roles = append(roles, im.Role)
			}
			if len(roles) != 2 || roles[0] != layout.Seal || roles[1] != layout.QR {
				t.Errorf("images = %v", roles)
			}
			// The seal sits over the authority's name, as on paper.
			var auth layout.Text
			for _, tx := range p.Texts {
				if tx.Text == "杭州市市场监督管理局" {
					auth = tx
				}
			}
			s := p.Images[0]
			if !(s.X < auth.X+auth.W && auth.X < s.X+s.W && s.Y < auth.Y+auth.H && auth.Y < s.Y+s.H) {
				t.Errorf("seal %+v is not over the authority name %+v", s, auth)
			}
		})
	}
}

func foodType() *certificates.Type {
	return &certificates.Type{Code: demo.Market + "002", Name: "食品经营许可证", DefiningAuthority: demo.Market, HolderKind: certificates.Organisation,
		Fields: []certificates.Field{{Name: "permit_no", Label: "许可证编号", Type: certificates.FieldString, Required: true},
			{Name: "address", Label: "经营场所", Type: certificates.FieldString}}}
}

func goodTemplate() *certificates.Template {
	return &certificates.Template{
		Page:  certificates.A4Landscape,
		Title: certificates.Title{TextBox: certificates.TextBox{Box: certificates.Box{X: 10, Y: 10, W: 277, H: 15}, SizeMM: 9, Align: layout.Center}},
		Fields: []certificates.TemplateField{
			{Name: "holder_name", LabelBox: &certificates.TextBox{Box: certificates.Box{X: 20, Y: 40, W: 40, H: 8}, SizeMM: 4.5}, Value: certificates.TextBox{Box: certificates.Box{X: 62, Y: 40, W: 120, H: 8}, SizeMM: 4.5}},
			{Name: "permit_no", Label: "编号", Value: certificates.TextBox{Box: certificates.Box{X: 62, Y: 50, W: 120, H: 8}, SizeMM: 4.5}},
		},
		Seal: certificates.Box{X: 200, Y: 140, W: 40, H: 40},
		QR:   certificates.Box{X: 20, Y: 150, W: 30, H: 30},
	}
}

// TestTemplateValidate: each bad template is refused naming the path of
// the problem; several problems are all listed.
func TestTemplateValidate(t *testing.T) {
	ty := foodType()
	if err := goodTemplate().Validate(ty); err != nil {
		t.Fatalf("good template: %v", err)
	}
	big := append(testPNG(t, 8, 8), make([]byte, certificates.MaxBackgroundBytes)...)
	tests := []struct {
		name   string
		change func(tp *certificates.Template)
		fields []string
	}{
		{"page size", func(tp *certificates.Template) { tp.Page = "a3" }, []string{"page"}},
		{"unknown field", func(tp *certificates.Template) { tp.Fields[1].Name = "licence_no" }, []string{"fields[1].name"}},
		{"duplicate field", func(tp *certificates.Template) { tp.Fields[1].Name = "holder_name" }, []string{"fields[1].name"}},
		{"value off the page", func(tp *certificates.Template) { tp.Fields[0].Value.X = 250 }, []string{"fields[0].value_box"}},
		{"label box negative", func(tp *certificates.Template) { tp.Fields[0].LabelBox.Y = -1 }, []string{"fields[0].label_box"}},
		{"font taller than box", func(tp *certificates.Template) { tp.Fields[1].Value.SizeMM = 9 }, []string{"fields[1].value_box.size_mm"}},
		{"seal off the page", func(tp *certificates.Template) { tp.Seal.Y = 190 }, []string{"seal"}},
		{"qr without size", func(tp *certificates.Template) { tp.QR.W = 0 }, []string{"qr"}},
		{"title off a card", func(tp *certificates.Template) { tp.Page = certificates.CardSize }, []string{"title", "fields[0].value_box", "fields[1].value_box", "seal", "qr"}},
		{"title text with a line break", func(tp *certificates.Template) { tp.Title.Text = "食品\n许可证" }, []string{"title.text"}},
		{"label with bidi override", func(tp *certificates.Template) { tp.Fields[1].Label = "编号\u202e" }, []string{"fields[1].label"}},
		{"bad align", func(tp *certificates.Template) { tp.Title.Align = "justify" }, []string{"title.align"}},
		{"artwork not a PNG", func(tp *certificates.Template) {
			tp.Background = &certificates.Artwork{PNG: []byte("GIF89a")}
		}, []string{"background.png"}},
		{"artwork over 2 MiB", func(tp *certificates.Template) { tp.Background = &certificates.Artwork{PNG: big} }, []string{"background.png"}},
		{"artwork too many pixels", func(tp *certificates.Template) {
			tp.Background = &certificates.Artwork{PNG: testPNG(t, certificates.MaxBackgroundDimension+1, 1)}
		}, []string{"background.png"}},
		{"artwork damaged", func(tp *certificates.Template) {
			p := testPNG(t, 64, 64)
			tp.Background = &certificates.Artwork{PNG: p[:len(p)-20]}
		}, []string{"background.png"}},
		{"artwork box off the page", func(tp *certificates.Template) {
			tp.Background = &certificates.Artwork{PNG: testPNG(t, 8, 8), Box: &certificates.Box{X: 0, Y: 0, W: 298, H: 210}}
		}, []string{"background.box"}},
		{"everything at once", func(tp *certificates.Template) {
			tp.Fields[0].Name, tp.Seal.X, tp.Fields[1].Label = "nope", -5, "\x00"
		}, []string{"fields[0].name", "fields[1].label", "seal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := goodTemplate()
			tt.change(tp)
			err := tp.Validate(ty)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
			var got []string
			for _, fe := range err.(*errs.Error).Fields {
				got = append(got, fe.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("fields = %v, want %v (%v)", got, tt.fields, err)
			}
			if _, err := certificates.Render(tp, certificates.RenderData{Type: ty}); !errs.Is(err, errs.Invalid) {
				t.Fatalf("Render of a bad template: %v", err)
			}
		})
	}
}

// TestParseTemplate: YAML and JSON give the same template; unknown keys
// and wrong types are named.
func TestParseTemplate(t *testing.T) {
	y := `
page: a4-landscape
title: {text: 食品经营许可证, x: 10, y: 10, w: 277, h: 15, size_mm: 9, align: center, bold: true}
fields:
  - name: holder_name
    label: 经营者名称
    label_box: {x: 20, y: 40, w: 40, h: 8, size_mm: 4.5}
    value_box: {x: 62, y: 40, w: 120, h: 8, size_mm: 4.5}
seal: {x: 200, y: 140, w: 40, h: 40}
qr: {x: 20, y: 150, w: 30, h: 30}
background: {png: iVBORw0KGgo=}
`
	tp, err := certificates.ParseTemplate([]byte(y), true)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Page != certificates.A4Landscape || tp.Title.Text != "食品经营许可证" || !tp.Title.Bold || tp.Title.SizeMM != 9 ||
		len(tp.Fields) != 1 || tp.Fields[0].LabelBox.W != 40 || tp.Fields[0].Value.X != 62 || tp.Seal.W != 40 ||
		string(tp.Background.PNG) != "\x89PNG\r\n\x1a\n" {
		t.Fatalf("parsed %+v", tp)
	}
	for _, tt := range []struct {
		name, body, field string
		yaml              bool
	}{
		{"unknown key", `{"page":"card","colour":"red"}`, "colour", false},
		{"unknown nested key", "page: card\nseal: {x: 1, y: 1, w: 2, h: 2, z: 3}\n", "seal.z", true},
		{"unknown key in a field", "page: card\nfields:\n  - name: a\n    valuebox: {x: 1}\n", "fields[0].valuebox", true},
		{"wrong type", `{"page":"card","seal":{"x":"left"}}`, "seal.x", false},
		{"not yaml", "page: [", "body", true},
		{"not json", `{"page":`, "body", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := certificates.ParseTemplate([]byte(tt.body), tt.yaml)
			var e *errs.Error
			if !errs.Is(err, errs.Invalid) || !asErr(err, &e) || e.Field != tt.field {
				t.Fatalf("err = %v, want invalid naming %s", err, tt.field)
			}
		})
	}
}

func asErr(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	*e = x
	return ok
}

// TestDisplayValues: a company's USCC is printed in full, a citizen's ID
// masked; dates in Chinese form; an open end is 长期.
func TestDisplayValues(t *testing.T) {
	ty := foodType()
	c := &certificates.Certificate{ID: "X.1", Holder: certificates.Holder{Kind: certificates.Organisation, ID: "91330100MA2XXXXXX0", Name: "某公司"},
		Data: map[string]any{"permit_no": "JY133"}, IssuedAt: time.Date(2026, 2, 28, 20, 0, 0, 0, time.UTC)}
	c.ValidFrom, _ = certificates.ParseDate("2026-03-01")
	loc, _ := time.LoadLocation("Asia/Shanghai")
	v := certificates.DisplayValues(c, ty, "某局", loc)
	if v["holder_id"] != "91330100MA2XXXXXX0" || v["valid_from"] != "2026年03月01日" || v["valid_until"] != "长期" ||
		v["issued_at"] != "2026年03月01日" || v["permit_no"] != "JY133" || v["authority_name"] != "某局" || v["identifier"] != "X.1" {
		t.Fatalf("values = %v", v)
	}
	c.Holder = certificates.Holder{Kind: certificates.Person, ID: "330102199001011234", Name: "张三"}
	if got := certificates.DisplayValues(c, ty, "", loc)["holder_id"]; got != "330102********1234" {
		t.Fatalf("masked = %q", got)
	}
}

// TestLicencePages: an issued certificate is laid out from its type's
// template once one is set (the default before), with its values, its
// authority's name and seal, the QR code and the watermark.
func TestLicencePages(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
	ctx := context.Background()
	seal := testPNG(t, 64, 64)
	if _, err := svc.SetSealImage(ctx, market, seal); err != nil {
		t.Fatal(err)
	}
	issued, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Get(ctx, issued.Certificate.ID)
	if err != nil {
		t.Fatal(err)
	}
	qr := testPNG(t, 33, 33)
	texts := func(p layout.Page) string {
		var all []string
		for _, tx := range p.Texts {
			all = append(all, tx.Text)
		}
		return strings.Join(all, "|")
	}
	pages, err := svc.LicencePages(ctx, c, qr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := texts(pages[0])
	for _, want := range []string{"食品经营许可证", "某某餐饮有限公司", "91350100M000100Y43", "人民路1号", "2026年01月01日", "2026年12月31日", c.ID, "局", "2026年06月01日"} {
		if !strings.Contains(got, want) {
			t.Errorf("default layout lacks %q: %s", want, got)
		}
	}
	if pages[0].WidthMM != 210 || len(pages[0].Images) != 2 || !bytes.Equal(pages[0].Images[0].PNG, seal) || !bytes.Equal(pages[0].Images[1].PNG, qr) {
		t.Fatalf("default page %gx%g, %d images", pages[0].WidthMM, pages[0].HeightMM, len(pages[0].Images))
	}

	tp := &certificates.Template{Page: certificates.CardSize,
		Title: certificates.Title{Text: "许可证", TextBox: certificates.TextBox{Box: certificates.Box{X: 2, Y: 2, W: 80, H: 6}, SizeMM: 4, Align: layout.Center}},
		Fields: []certificates.TemplateField{{Name: "address", LabelBox: &certificates.TextBox{Box: certificates.Box{X: 2, Y: 12, W: 20, H: 5}, SizeMM: 3},
			Value: certificates.TextBox{Box: certificates.Box{X: 24, Y: 12, W: 58, H: 5}, SizeMM: 3}}},
		Seal: certificates.Box{X: 60, Y: 30, W: 20, H: 20}, QR: certificates.Box{X: 2, Y: 30, W: 20, H: 20}}
	if err := svc.SetTypeTemplate(ctx, permit, tp); err != nil {
		t.Fatal(err)
	}
	pages, err = svc.LicencePages(ctx, c, qr, "仅用于办理银行开户", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := pages[0]; p.WidthMM != 85.6 || texts(p) != "许可证|经营场所|人民路1号" || p.Watermark != "仅用于办理银行开户" || p.Validate() != nil {
		t.Fatalf("card page: %gx%g %q %q", p.WidthMM, p.HeightMM, texts(p), p.Watermark)
	}
	// A template that does not fit the type is refused, and the stored one kept.
	bad := *tp
	bad.Fields = []certificates.TemplateField{{Name: "nope", Value: tp.Fields[0].Value}}
	if err := svc.SetTypeTemplate(ctx, permit, &bad); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad template: %v", err)
	}
	if got, stored, err := svc.TypeTemplate(ctx, permit); err != nil || !stored || got.Fields[0].Name != "address" {
		t.Fatalf("after a refused template: %v %v %+v", err, stored, got)
	}
}

func BenchmarkRender(b *testing.B) {
	ty := demo.Types()[1]
	values := certificates.SampleValues(ty)
	seal, qr := []byte("\x89PNG seal"), []byte("\x89PNG qr")
	for b.Loop() {
		if _, err := certificates.Render(nil, certificates.RenderData{Type: ty, Values: values, AuthorityName: "杭州市市场监督管理局", SealPNG: seal, QRPNG: qr}); err != nil {
			b.Fatal(err)
		}
	}
}
