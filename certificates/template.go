package certificates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
)

// PageSize names a template's paper.
type PageSize string

// Page sizes a template may use.
const (
	A4Portrait  PageSize = "a4-portrait"
	A4Landscape PageSize = "a4-landscape"
	CardSize    PageSize = "card"
)

// MM returns the page's width and height in millimetres, ok false for an
// unknown size.
func (p PageSize) MM() (w, h float64, ok bool) {
	switch p {
	case A4Portrait:
		return layout.A4Portrait[0], layout.A4Portrait[1], true
	case A4Landscape:
		return layout.A4Landscape[0], layout.A4Landscape[1], true
	case CardSize:
		return layout.Card[0], layout.Card[1], true
	}
	return 0, 0, false
}

// Limits of a template's background/border artwork: 2 MiB, and 4096
// pixels a side (A4 at 300 dpi is 3508×2480), checked from the header
// before the pixels are decoded, so a small file cannot inflate to
// gigabytes in a writer.
const (
	MaxBackgroundBytes     = 2 << 20
	MaxBackgroundDimension = 4096
)

// Box is a rectangle on the page in millimetres from the top-left corner.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// TextBox is a box holding one line of text.
type TextBox struct {
	Box
	SizeMM float64      `json:"size_mm"`         // font em height, mm
	Align  layout.Align `json:"align,omitempty"` // left (default), center, right
	Bold   bool         `json:"bold,omitempty"`
}

// Title is the licence's heading; Text empty prints the type's name.
type Title struct {
	Text string `json:"text,omitempty"`
	TextBox
}

// TemplateField is one printed entry: a type field or a built-in (see
// BuiltinFields). Label empty prints the field's own label; a nil LabelBox
// prints the value alone.
type TemplateField struct {
	Name     string   `json:"name"`
	Label    string   `json:"label,omitempty"`
	LabelBox *TextBox `json:"label_box,omitempty"`
	Value    TextBox  `json:"value_box"`
}

// Artwork is a background or border picture (PNG, at most 2 MiB) drawn
// under everything else; a nil Box covers the whole page. It is kept
// inline with the template: one row holds everything a licence looks like,
// replaced at once, with nothing in the object store to collect.
type Artwork struct {
	PNG []byte `json:"png"` // base64 in JSON and YAML
	Box *Box   `json:"box,omitempty"`
}

// Template is how a licence of one type looks (a department's 电子化模板):
// the page, the title, the printed fields in order, where the seal picture
// and the QR code go, and optional artwork. Render turns it and a
// certificate's values into layout pages.
type Template struct {
	Page       PageSize        `json:"page"`
	Title      Title           `json:"title"`
	Fields     []TemplateField `json:"fields"`
	Seal       Box             `json:"seal"`
	QR         Box             `json:"qr"`
	Background *Artwork        `json:"background,omitempty"`
}

// Built-in fields a template may print besides the type's own.
const (
	FieldHolderName    = "holder_name"
	FieldHolderID      = "holder_id"
	FieldIdentifier    = "identifier"
	FieldValidFrom     = "valid_from"
	FieldValidUntil    = "valid_until"
	FieldIssuedAt      = "issued_at"
	FieldAuthorityName = "authority_name"
)

// BuiltinFields lists the built-ins in the order the default layout prints
// the first ones.
var BuiltinFields = []string{FieldHolderName, FieldHolderID, FieldIdentifier, FieldValidFrom, FieldValidUntil, FieldIssuedAt, FieldAuthorityName}

// BuiltinLabel is the printed label of a built-in field for a type's holders.
func BuiltinLabel(kind HolderKind, name string) string {
	switch name {
	case FieldHolderName:
		if kind == Person {
			return "姓名"
		}
		return "名称"
	case FieldHolderID:
		if kind == Person {
			return "公民身份号码"
		}
		return "统一社会信用代码"
	case FieldIdentifier:
		return "证照标识"
	case FieldValidFrom:
		return "有效期自"
	case FieldValidUntil:
		return "有效期至"
	case FieldIssuedAt:
		return "发证日期"
	case FieldAuthorityName:
		return "发证机关"
	}
	return ""
}

func isBuiltin(name string) bool {
	for _, b := range BuiltinFields {
		if b == name {
			return true
		}
	}
	return false
}

// LabelOf returns what f prints as its label for type t.
func (f TemplateField) LabelOf(t *Type) string {
	if f.Label != "" {
		return f.Label
	}
	if tf, ok := t.Field(f.Name); ok {
		return tf.Label
	}
	return BuiltinLabel(t.HolderKind, f.Name)
}

// ParseTemplate reads a template from JSON, or from YAML when yamlBody is
// true. Unknown keys are errors naming the key.
func ParseTemplate(b []byte, yamlBody bool) (*Template, error) {
	if yamlBody {
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return nil, errs.Field("body", "is not YAML: %v", err)
		}
		js, err := json.Marshal(generic)
		if err != nil {
			return nil, errs.Field("body", "cannot be read as a template: %v", err)
		}
		b = js
	}
	// Every unknown key is named with its path before anything else is
	// read: a typo (valuebox) must not silently drop a box.
	var generic any
	gd := json.NewDecoder(bytes.NewReader(b))
	gd.UseNumber()
	if err := gd.Decode(&generic); err != nil {
		return nil, errs.Field("body", "is not a template: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if gd.More() {
		return nil, errs.Field("body", "must hold one template")
	}
	var l errs.List
	unknownKeys(&l, "", generic, reflect.TypeFor[Template]())
	if err := l.Err(); err != nil {
		return nil, err
	}
	var t Template
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, errs.Field(te.Field, "must be %s, got %s", kindName(te.Type), te.Value)
		}
		return nil, errs.Field("body", "is not a template: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return &t, nil
}

// unknownKeys records every key of v that t (a struct, by its json tags,
// embedded structs flattened) does not have, by path.
func unknownKeys(l *errs.List, path string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return
		}
		known := map[string]reflect.Type{}
		jsonKeys(t, known)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			vv := x[k]
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := known[k]
			if !ok {
				l.Add(p, "is not a template key (see docs/templates.md)")
				continue
			}
			unknownKeys(l, p, vv, ft)
		}
	case []any:
		if t.Kind() != reflect.Slice || t.Elem().Kind() == reflect.Uint8 {
			return
		}
		for i, vv := range x {
			unknownKeys(l, fmt.Sprintf("%s[%d]", path, i), vv, t.Elem())
		}
	}
}

func jsonKeys(t reflect.Type, into map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			jsonKeys(f.Type, into)
			continue
		}
		if name != "" && name != "-" {
			into[name] = f.Type
		}
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	}
	return "an object"
}

// Validate checks the template against its type and lists every problem
// with its path: the page size, unknown and repeated field names, text
// that LineProblem refuses, boxes that leave the page or cannot hold their
// text (layout.Page.Validate's rule), and artwork that is not a PNG of at
// most 2 MiB.
func (tp *Template) Validate(t *Type) error {
	var l errs.List
	w, h, ok := tp.Page.MM()
	if !ok {
		l.Add("page", "must be a4-portrait, a4-landscape or card, got %q", tp.Page)
		// Boxes are then measured against the largest page a writer takes,
		// so only their own faults are listed, not the unknown size's.
		w, h = 1000, 1000
	}
	if tp.Title.Text != "" {
		checkLabel(&l, "title.text", tp.Title.Text)
	}
	checkTextBox(&l, "title", w, h, tp.Title.TextBox)
	if len(tp.Fields) > 120 {
		l.Add("fields", "at most 120 fields, got %d", len(tp.Fields))
	}
	seen := map[string]bool{}
	for i, f := range tp.Fields {
		p := fmt.Sprintf("fields[%d]", i)
		_, typed := t.Field(f.Name)
		switch {
		case !typed && !isBuiltin(f.Name):
			l.Add(p+".name", "%q is neither a field of type %s nor a built-in (%s)", f.Name, t.Code, strings.Join(BuiltinFields, ", "))
		case seen[f.Name]:
			l.Add(p+".name", "%q is printed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Label != "" {
			checkLabel(&l, p+".label", f.Label)
		}
		if f.LabelBox != nil {
			checkTextBox(&l, p+".label_box", w, h, *f.LabelBox)
		}
		checkTextBox(&l, p+".value_box", w, h, f.Value)
	}
	checkBox(&l, "seal", w, h, tp.Seal)
	checkBox(&l, "qr", w, h, tp.QR)
	if bg := tp.Background; bg != nil {
		if why := backgroundProblem(bg.PNG); why != "" {
			l.Add("background.png", "%s", why)
		}
		if bg.Box != nil {
			checkBox(&l, "background.box", w, h, *bg.Box)
		}
	}
	return l.Err()
}

func checkLabel(l *errs.List, field, s string) {
	switch {
	case utf8.RuneCountInString(s) > 100:
		l.Add(field, "is longer than 100 characters")
	case strings.TrimSpace(s) == "":
		l.Add(field, "is blank")
	default:
		if why := LineProblem(s); why != "" {
			l.Add(field, "%s", why)
		}
	}
}

// checkTextBox and checkBox apply layout.Page.Validate to the one box, so
// a template is refused for exactly what the writers would refuse.
func checkTextBox(l *errs.List, field string, w, h float64, b TextBox) {
	switch b.Align {
	case "", layout.Left, layout.Center, layout.Right:
	default:
		l.Add(field+".align", "must be left, center or right, got %q", b.Align)
	}
	p := layout.Page{WidthMM: w, HeightMM: h, Texts: []layout.Text{{X: b.X, Y: b.Y, W: b.W, H: b.H, SizeMM: b.SizeMM, Text: "x"}}}
	pageProblems(l, field, p.Validate())
}

func checkBox(l *errs.List, field string, w, h float64, b Box) {
	p := layout.Page{WidthMM: w, HeightMM: h, Images: []layout.Image{{X: b.X, Y: b.Y, W: b.W, H: b.H, PNG: pngSignature}}}
	pageProblems(l, field, p.Validate())
}

func pageProblems(l *errs.List, field string, err error) {
	if err == nil {
		return
	}
	for _, fe := range err.(*errs.Error).Fields {
		f := field
		if _, rest, ok := strings.Cut(fe.Field, "]"); ok {
			f += rest // texts[0].size_mm → field.size_mm
		}
		l.Add(f, "%s", fe.Reason)
	}
}

// backgroundProblem says why data is not acceptable artwork, "" if it is.
func backgroundProblem(data []byte) string {
	switch {
	case len(data) == 0:
		return "is empty; give the artwork as a base64 PNG"
	case len(data) > MaxBackgroundBytes:
		return fmt.Sprintf("is %d bytes; artwork may have at most %d bytes (2 MiB)", len(data), MaxBackgroundBytes)
	case !bytes.HasPrefix(data, pngSignature):
		return "is not a PNG file (it does not begin with the PNG signature)"
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Sprintf("is not a readable PNG file: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxBackgroundDimension || cfg.Height > MaxBackgroundDimension {
		return fmt.Sprintf("is %d×%d pixels; artwork may be at most %d pixels wide and high", cfg.Width, cfg.Height, MaxBackgroundDimension)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		return fmt.Sprintf("is a damaged PNG file: %v", err)
	}
	return ""
}

// TypeTemplate returns how licences of a type look: its stored template,
// or the default layout with stored false. errs.NotFound if the type is
// unknown.
func (s *Service) TypeTemplate(ctx context.Context, code string) (tp *Template, stored bool, err error) {
	t, err := s.Type(ctx, code)
	if err != nil {
		return nil, false, err
	}
	tp, err = s.Store.GetTemplate(ctx, code)
	if err != nil {
		return nil, false, err
	}
	if tp == nil {
		return DefaultTemplate(t), false, nil
	}
	return tp, true, nil
}

// SetTypeTemplate validates tp against the type and stores it, replacing
// the current one: errs.NotFound if the type is unknown, errs.Invalid
// listing every problem (then nothing is stored).
func (s *Service) SetTypeTemplate(ctx context.Context, code string, tp *Template) error {
	t, err := s.Type(ctx, code)
	if err != nil {
		return err
	}
	if err := tp.Validate(t); err != nil {
		return err
	}
	return s.Store.SetTemplate(ctx, code, tp, s.now())
}
