package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cliTemplate = `# 食品经营许可证, landscape
page: a4-landscape
title: {x: 10, y: 12, w: 277, h: 16, size_mm: 10, align: center, bold: true}
fields:
  - name: holder_name
    label: 经营者名称
    label_box: {x: 30, y: 45, w: 45, h: 9, size_mm: 5, align: right}
    value_box: {x: 80, y: 45, w: 150, h: 9, size_mm: 5}
  - name: permit_no
    label_box: {x: 30, y: 57, w: 45, h: 9, size_mm: 5, align: right}
    value_box: {x: 80, y: 57, w: 150, h: 9, size_mm: 5}
  - name: authority_name
    value_box: {x: 190, y: 165, w: 90, h: 9, size_mm: 5, align: center}
seal: {x: 215, y: 150, w: 40, h: 40}
qr: {x: 25, y: 150, w: 35, h: 35}
`

// TestTemplateCLIAndAPI: a template set with the CLI is what the API
// serves; one set through the API is what the CLI shows; a bad file is
// refused listing every problem, and nothing is stored.
func TestTemplateCLIAndAPI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := start(t, []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}, "--data", data)
	setup(t, p)
	dir := t.TempDir()
	env := []string{"CERTHUB_DATA=" + data}
	path := "/api/v1/types/" + licence + "/template"

	out, code := console(t, dir, env, "types", "template", "show", licence)
	if code != 0 || !strings.Contains(out, "default layout") || !strings.Contains(out, `"a4-portrait"`) {
		t.Fatalf("show default: exit %d\n%s", code, out)
	}

	file := filepath.Join(dir, "food.yaml")
	if err := os.WriteFile(file, []byte(cliTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := console(t, dir, env, "types", "template", "set", licence, file); code != 0 || !strings.Contains(out, "stored") {
		t.Fatalf("set: exit %d\n%s", code, out)
	}
	got := p.must(200, "GET", path, admin, nil)
	tp := got["template"].(map[string]any)
	if got["default"] != false || tp["page"] != "a4-landscape" || len(tp["fields"].([]any)) != 3 ||
		tp["fields"].([]any)[0].(map[string]any)["label"] != "经营者名称" {
		t.Fatalf("API after CLI set: %v", got)
	}

	// A bad file: every problem printed, exit 1, the stored one kept.
	bad := filepath.Join(dir, "bad.yaml")
	badText := strings.NewReplacer("name: permit_no", "name: licence_no", "seal: {x: 215", "seal: {x: 275").Replace(cliTemplate)
	if err := os.WriteFile(bad, []byte(badText), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = console(t, dir, env, "types", "template", "set", licence, bad)
	if code == 0 || !strings.Contains(out, "2 problems") || !strings.Contains(out, "fields[1].name") || !strings.Contains(out, "seal:") {
		t.Fatalf("bad set: exit %d\n%s", code, out)
	}
	if again := p.must(200, "GET", path, admin, nil); again["template"].(map[string]any)["seal"].(map[string]any)["x"] != 215.0 {
		t.Fatalf("a refused file changed the template: %v", again)
	}

	// Set through the API (JSON), shown by the CLI.
	tp["title"].(map[string]any)["text"] = "食品经营许可证（副本）"
	p.must(200, "PUT", path, admin, tp)
	out, code = console(t, dir, env, "types", "template", "show", licence)
	if code != 0 || strings.Contains(out, "default layout") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	// The output mixes the log (one JSON object a line) with the template.
	var shown map[string]any
	i := strings.Index(out, "{\n")
	if i < 0 {
		t.Fatalf("no template printed:\n%s", out)
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&shown); err != nil || shown["title"].(map[string]any)["text"] != "食品经营许可证（副本）" {
		t.Fatalf("show after API PUT: %v\n%s", err, out)
	}
}
