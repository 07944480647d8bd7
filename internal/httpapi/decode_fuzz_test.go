package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
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
