package statuslist

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"testing"
)

// FuzzDecode feeds the decoders and name parsers arbitrary input: each
// returns a list within its cap or an error, never panics, and Get stays
// in range.
func FuzzDecode(f *testing.F) {
	l, _ := New(64)
	_ = l.Set(3, Invalid)
	_ = l.Set(40, Suspended)
	lst, _ := l.EncodeTSL()
	enc, _ := l.EncodeBSL(Revocation)
	var zbomb, gbomb bytes.Buffer
	zw := zlib.NewWriter(&zbomb)
	_, _ = zw.Write(make([]byte, 1<<20))
	_ = zw.Close()
	gw := gzip.NewWriter(&gbomb)
	_, _ = gw.Write(make([]byte, 1<<20))
	_ = gw.Close()
	for _, seed := range []string{lst, enc, "", "u", "eNrbuRgAAhcBXQ", "1-revocation", "0", "007",
		base64.RawURLEncoding.EncodeToString(zbomb.Bytes()), Multibase + base64.RawURLEncoding.EncodeToString(gbomb.Bytes())} {
		f.Add(seed, 2, 7)
	}
	f.Fuzz(func(t *testing.T, s string, bits, idx int) {
		const max = 1024
		if tl, err := DecodeTSL(s, bits, max); err == nil {
			if tl.Len() > max || tl.Len() <= 0 {
				t.Fatalf("TSL of %d entries past the cap %d", tl.Len(), max)
			}
			if _, err := tl.Get(idx); (err == nil) != (idx >= 0 && idx < tl.Len()) {
				t.Fatalf("Get(%d) of %d entries: %v", idx, tl.Len(), err)
			}
		}
		if bl, err := DecodeBSL(s, max); err == nil {
			if bl.Len() > max+7 || bl.Len() <= 0 {
				t.Fatalf("BSL of %d entries past the cap %d", bl.Len(), max)
			}
			if _, err := bl.Get(idx); (err == nil) != (idx >= 0 && idx < bl.Len()) {
				t.Fatalf("Get(%d) of %d entries: %v", idx, bl.Len(), err)
			}
		}
		if n, err := ParseTSLName(s); err == nil && (n < 1 || TSLPath(n) != "/status/tsl/"+s) {
			t.Fatalf("ParseTSLName(%q) = %d", s, n)
		}
		if n, p, err := ParseBSLName(s); err == nil && BSLPath(n, p) != "/status/bsl/"+s {
			t.Fatalf("ParseBSLName(%q) = %d, %s", s, n, p)
		}
	})
}
