package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"image/color"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
)

// templateYAML is a landscape licence template for the test type, in the
// form docs/templates.md shows.
const templateYAML = `
page: a4-landscape
title: {text: 营业执照（副本）, x: 10, y: 12, w: 277, h: 16, size_mm: 10, align: center, bold: true}
fields:
  - name: holder_name
    label: 名称
    label_box: {x: 30, y: 45, w: 40, h: 9, size_mm: 5, align: right}
    value_box: {x: 75, y: 45, w: 150, h: 9, size_mm: 5}
  - name: holder_id
    label_box: {x: 30, y: 57, w: 40, h: 9, size_mm: 5, align: right}
    value_box: {x: 75, y: 57, w: 150, h: 9, size_mm: 5}
  - name: legal_representative
    label_box: {x: 30, y: 69, w: 40, h: 9, size_mm: 5, align: right}
    value_box: {x: 75, y: 69, w: 150, h: 9, size_mm: 5}
  - name: authority_name
    value_box: {x: 190, y: 165, w: 90, h: 9, size_mm: 5, align: center}
  - name: issued_at
    value_box: {x: 190, y: 176, w: 90, h: 9, size_mm: 5, align: center}
seal: {x: 215, y: 150, w: 40, h: 40}
qr: {x: 25, y: 150, w: 35, h: 35}
`

type templateAnswer struct {
	Type     string                 `json:"type"`
	Default  bool                   `json:"default"`
	Template *certificates.Template `json:"template"`
}

func TestTypeTemplate(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) { t.Parallel(); testTypeTemplate(t) })
	t.Run("PostgreSQL", func(t *testing.T) { t.Parallel(); testTypeTemplate(t, hubtest.OnPostgres()) })
}

func testTypeTemplate(t *testing.T, opts ...hubtest.Option) {
	h := newHub(t, opts...)
	h.seed()
	path := "/api/v1/types/" + licence + "/template"
	clerk := h.token("clerk", "")

	// Without a template: the default layout, flagged, for every reader.
	var got templateAnswer
	if st := h.call("GET", path, clerk, nil, &got); st != 200 || !got.Default || got.Type != licence ||
		got.Template.Page != certificates.A4Portrait || len(got.Template.Fields) != 4+5+2 {
		t.Fatalf("default: %d %+v", st, got)
	}

	// The YAML form is stored and read back as JSON.
	st, _, body := h.raw("PUT", path, h.Admin, "application/yaml", []byte(templateYAML))
	if st != 200 {
		t.Fatalf("PUT YAML: %d %s", st, body)
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Default || got.Template.Title.Text != "营业执照（副本）" {
		t.Fatalf("PUT answer: %v %s", err, body)
	}
	stored, _ := json.Marshal(got.Template)
	if st := h.call("GET", path, clerk, nil, &got); st != 200 || got.Default || got.Template.Page != certificates.A4Landscape ||
		len(got.Template.Fields) != 5 || got.Template.Fields[0].Label != "名称" || got.Template.Fields[2].LabelBox.X != 30 {
		t.Fatalf("GET after PUT: %d %+v", st, got)
	}

	// JSON with artwork round-trips byte for byte.
	art := testPNG(t, 40, 40, color.Black)
	got.Template.Background = &certificates.Artwork{PNG: art, Box: &certificates.Box{X: 5, Y: 5, W: 287, H: 200}}
	if st := h.call("PUT", path, h.Admin, got.Template, nil); st != 200 {
		t.Fatalf("PUT JSON: %d", st)
	}
	if st := h.call("GET", path, h.Admin, nil, &got); st != 200 || got.Template.Background == nil || string(got.Template.Background.PNG) != string(art) {
		t.Fatalf("artwork did not round-trip: %d", st)
	}
	stored, _ = json.Marshal(got.Template)
	entries := len(h.ledger())

	// Every bad template: 400 naming each problem, nothing stored.
	huge := base64.StdEncoding.EncodeToString(append(testPNG(t, 8, 8, color.Black), make([]byte, certificates.MaxBackgroundBytes)...))
	tests := []struct {
		name, contentType, body string
		status                  int
		fields                  []string
	}{
		{"unknown field", "application/yaml", strings.Replace(templateYAML, "name: legal_representative", "name: licence_no", 1), 400, []string{"fields[2].name"}},
		{"duplicate field", "application/yaml", strings.Replace(templateYAML, "name: holder_id", "name: holder_name", 1), 400, []string{"fields[1].name"}},
		{"off the page edge", "application/yaml", strings.Replace(templateYAML, "seal: {x: 215, y: 150", "seal: {x: 265, y: 150", 1), 400, []string{"seal"}},
		{"font taller than its box", "application/yaml", strings.Replace(templateYAML, "h: 16, size_mm: 10", "h: 16, size_mm: 20", 1), 400, []string{"title.size_mm"}},
		{"unknown page", "application/yaml", strings.Replace(templateYAML, "a4-landscape", "letter", 1), 400, []string{"page"}},
		{"label not one line", "application/json", `{"page":"card","title":{"text":"a\nb","x":1,"y":1,"w":50,"h":5,"size_mm":4},"fields":[],"seal":{"x":1,"y":1,"w":5,"h":5},"qr":{"x":10,"y":10,"w":5,"h":5}}`, 400, []string{"title.text"}},
		{"artwork not a PNG", "application/json", `{"page":"card","title":{"x":1,"y":1,"w":50,"h":5,"size_mm":4},"fields":[],"seal":{"x":1,"y":1,"w":5,"h":5},"qr":{"x":10,"y":10,"w":5,"h":5},"background":{"png":"R0lGODlh"}}`, 400, []string{"background.png"}},
		{"artwork over 2 MiB", "application/json", `{"page":"card","title":{"x":1,"y":1,"w":50,"h":5,"size_mm":4},"fields":[],"seal":{"x":1,"y":1,"w":5,"h":5},"qr":{"x":10,"y":10,"w":5,"h":5},"background":{"png":"` + huge + `"}}`, 400, []string{"background.png"}},
		{"unknown key", "application/json", `{"page":"card","colour":"red"}`, 400, []string{"colour"}},
		{"unknown keys, nested", "application/yaml", strings.Replace(templateYAML, "value_box: {x: 75, y: 45", "valuebox: {x: 75, y: 45", 1) + "colour: red\n", 400, []string{"colour", "fields[0].valuebox"}},
		{"wrong type", "application/json", `{"page":"card","seal":{"x":"left"}}`, 400, []string{"seal.x"}},
		{"several problems", "application/yaml", strings.NewReplacer("name: legal_representative", "name: nope", "qr: {x: 25", "qr: {x: -1").Replace(templateYAML), 400, []string{"fields[2].name", "qr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, body := h.raw("PUT", path, h.Admin, tt.contentType, []byte(tt.body))
			var e struct {
				Error struct {
					Field  string
					Fields []struct{ Field, Reason string }
				}
			}
			_ = json.Unmarshal(body, &e)
			var fields []string
			for _, f := range e.Error.Fields {
				fields = append(fields, f.Field)
			}
			if st != tt.status || strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("%d %v, want %d %v: %s", st, fields, tt.status, tt.fields, body)
			}
			var now templateAnswer
			h.call("GET", path, h.Admin, nil, &now)
			if again, _ := json.Marshal(now.Template); string(again) != string(stored) {
				t.Fatal("a refused template changed the stored one")
			}
		})
	}
	if n := len(h.ledger()); n != entries {
		t.Fatalf("refused templates were recorded: %d ledger entries, want %d", n, entries)
	}

	// Unknown type: 404 naming the code; not admin: 403.
	if st := h.call("GET", "/api/v1/types/"+marketCode+"999/template", h.Admin, nil, nil); st != 404 {
		t.Fatalf("unknown type: %d", st)
	}
	if st, _, _ := h.raw("PUT", path, h.token("issuer", marketCode), "application/yaml", []byte(templateYAML)); st != 403 {
		t.Fatalf("issuer PUT: %d", st)
	}
}
