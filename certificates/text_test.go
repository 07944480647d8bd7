package certificates

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/errs"
)

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     bool
		want     string // substring of the reason; "" means accepted
	}{
		{"chinese", "吴海峰", true, ""},
		{"multiline free text", "热食类食品制售\n冷食类食品制售\t", false, ""},
		{"invalid utf-8", "吴\xff\xfe海峰", false, "not valid UTF-8 (byte 3 is 0xFF)"},
		{"replacement char", "吴\uFFFD海峰", false, "U+FFFD"},
		{"nul", "张\x00三", false, "U+0000 (NUL)"},
		{"esc", "\x1b[31m张三", false, "U+001B (ESC)"},
		{"bel", "张三\a", false, "U+0007 (BEL)"},
		{"backspace", "张三\b", false, "U+0008 (BS)"},
		{"del", "张三\x7f", false, "U+007F (DEL)"},
		{"c1", "张三\u0085", false, "U+0085"},
		{"bidi override", "abc\u202Edef", false, "bidirectional"},
		{"newline in a line", "张\n三", true, "line feed"},
		{"tab in a line", "张\t三", true, "tab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TextProblem(tc.in)
			if tc.line {
				got = LineProblem(tc.in)
			}
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("problem(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheckStringsNamesThePath(t *testing.T) {
	type grant struct {
		Fields []string `json:"fields"`
	}
	type body struct {
		Name   string          `json:"name"`
		Data   map[string]any  `json:"data"`
		Grants []grant         `json:"grants"`
		Raw    json.RawMessage `json:"raw"`
		Skip   string          `json:"-"`
		Bytes  []byte          `json:"bytes"`
		Ptr    *string         `json:"ptr,omitempty"`
	}
	bad := "x\x00"
	v := body{Name: "ok", Data: map[string]any{"address": []any{"fine", "a\x1bb"}, "k\x07": "v"},
		Grants: []grant{{Fields: []string{"ok", "\u202E"}}}, Raw: json.RawMessage(`{"a":"\u0000"}`),
		Skip: bad, Bytes: []byte{0}, Ptr: &bad}
	var l errs.List
	CheckStrings("", &v, &l)
	got := map[string]bool{}
	for _, f := range l {
		got[f.Field] = true
	}
	for _, want := range []string{"data.address[1]", `data."k\a"`, "grants[0].fields[1]", "raw.a", "ptr"} {
		if !got[want] {
			t.Errorf("no problem reported for %s; got %v", want, l)
		}
	}
	if len(l) != 5 {
		t.Errorf("got %d problems, want 5: %v", len(l), l)
	}
}
