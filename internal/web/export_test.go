package web

import "testing"

// WithoutDecoder makes the pages those of a hub built without the vendored
// QR decoder (go generate not run), until the test ends.
func WithoutDecoder(t testing.TB) {
	old := jsQR
	jsQR = nil
	t.Cleanup(func() { jsQR = old })
}

// HasDecoder reports whether the vendored QR decoder was generated.
func HasDecoder() bool { return jsQR != nil }
