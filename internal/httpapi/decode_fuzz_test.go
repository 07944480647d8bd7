package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// FuzzDecodeJSON: whatever the body, decodeJSON either refuses it with an
// error a client can act on (invalid or too large, never internal), or it
// accepted exactly one valid JSON value within the limit whose every
// string passes the text rule.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"张三","data":{"a":"b"},"list":["x"]}`, `{}`, `{}}`, `{}]`, `{} {}`, "{}   ", `{"name":"\u0000"}`,
		"{\"name\":\"\xff\"}", `{"name":"\ufffd"}`, `{"data":{"k\u001b":"v"}}`, `[]`, `null`, `{"list":[1]}`, "",
		`{"name":"a"}` + string(bytes.Repeat([]byte(" "), 300)),
	} {
		f.Add([]byte(seed))
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Name string         `json:"name"`
			Data map[string]any `json:"data"`
			List []string       `json:"list"`
		}
		err := decodeJSON(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), limit), limit, &v)
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && !(c == errs.TooLarge && len(body) > limit) {
				t.Fatalf("decodeJSON(%q) = %v: code %s, want invalid (or too large)", body, err, c)
			}
			return
		}
		if len(body) > limit || !json.Valid(body) {
			t.Fatalf("decodeJSON accepted %q, which is not one JSON value", body)
		}
		var l errs.List
		certificates.CheckStrings("", &v, &l)
		if len(l) > 0 {
			t.Fatalf("decodeJSON accepted %q with bad text: %v", body, l)
		}
	})
}

// TestDecodeJSON: what decodeJSON answers for the bodies clients get
// wrong, each naming the field; numbers in free-form data stay exact; a
// name given twice is refused (encoding/json kept the last, so two readers
// of one body could disagree).
func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string         `json:"name"`
		Data map[string]any `json:"data"`
		List []string       `json:"list"`
	}
	for in, want := range map[string]string{
		`{"name": 5}`:              "name: must be a string, got JSON number",
		`{"name":"a","name":"b"}`:  "name: is given twice",
		`{"data":{"k":1,"k":2}}`:   "data.k: is given twice",
		`{"colour":"red"}`:         "colour: is not a known field",
		`{"list":[1]}`:             "list[0]: must be a string, got JSON number",
		`{"list":"x"}`:             "list: must be an array, got JSON string",
		`{"data":[1]}`:             "data: must be an object, got JSON array",
		`{} {}`:                    "body: must hold one JSON value; found more after it at byte 3",
		`{"name":`:                 "body: malformed JSON: the body ends in the middle of a value",
		`{"name" "x"}`:             "body: malformed JSON at byte",
		``:                         "body: is empty",
		"{\"name\":\"\xff\"}":      "name: is not valid UTF-8",
		`{"data":{"k":"a\u0007"}}`: "data.k:",
		`[]`:                       "body: must be an object, got JSON array",
		`{"name":"` + strings.Repeat("x", 300) + `"}`: "body: request body is larger than 256 bytes",
	} {
		var v body
		err := decodeJSON(http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(in)), 256), 256, &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodeJSON(%.40q) = %v, want an error saying %q", in, err, want)
		}
	}
	var v body
	in := `{"Name":"张三","data":{"big":12345678901234567890,"list":[2.50,{"e":1e3}],"ok":true,"none":null}}`
	if err := decodeJSON(io.NopCloser(strings.NewReader(in)), 256, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"big": json.Number("12345678901234567890"), "list": []any{json.Number("2.50"), map[string]any{"e": json.Number("1e3")}}, "ok": true, "none": nil}
	if v.Name != "张三" || !reflect.DeepEqual(v.Data, want) {
		t.Fatalf("decoded %+v, want name 张三 and data %v", v, want)
	}
}
