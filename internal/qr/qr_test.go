package qr_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/qr"
)

func TestPNGRoundTrip(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"http://127.0.0.1:8080/s/" + strings.Repeat("A", 43),
		"https://certhub.hangzhou.gov.cn/s/Zx9_-aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
	} {
		img, err := qr.PNG(url, 4)
		if err != nil {
			t.Fatal(err)
		}
		got, err := qr.Decode(img)
		if err != nil || got != url {
			t.Fatalf("decode = %q, %v; want %q", got, err, url)
		}
		// The quiet zone: the outer 4 modules (16 px) are white all round.
		p, _ := png.Decode(bytes.NewReader(img))
		b := p.Bounds()
		for i := 0; i < b.Dx(); i++ {
			for _, pt := range [][2]int{{i, 0}, {i, 15}, {0, i}, {15, i}, {i, b.Dy() - 1}, {b.Dx() - 1, i}} {
				if r, _, _, _ := p.At(pt[0], pt[1]).RGBA(); r != 0xffff {
					t.Fatalf("quiet zone is not white at %v", pt)
				}
			}
		}
	}
}

// TestDecodeEveryShareURL: every share URL the hub draws is read back. With
// one binarizer gozxing missed about 2 % of them (a flaky share test found
// it); 500 random share tokens must all decode.
func TestDecodeEveryShareURL(t *testing.T) {
	t.Parallel()
	for i := 0; i < 500; i++ {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		url := "http://127.0.0.1:34583/s/" + base64.RawURLEncoding.EncodeToString(b)
		img, err := qr.PNG(url, 8)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := qr.Decode(img); err != nil || got != url {
			t.Fatalf("share %d: decode = %q, %v; want %q", i, got, err, url)
		}
	}
}

func TestSVGShape(t *testing.T) {
	t.Parallel()
	svg, err := qr.SVG("http://127.0.0.1/s/abc")
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.HasPrefix(s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 33 33"`) || !strings.Contains(s, `fill="#fff"`) || !strings.Contains(s, "M4 4h1v1h-1z") {
		t.Fatalf("svg = %.200s", s)
	}
}

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not an image", []byte("%PDF-1.7 hello"), "not an image"},
		{"empty", nil, "not an image"},
	}
	for _, tt := range tests {
		_, err := qr.Decode(tt.data)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	// A real image without a QR code: white, one black pixel.
	white := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range white.Pix {
		white.Pix[i] = 0xff
	}
	white.Set(3, 3, color.Black)
	var buf bytes.Buffer
	_ = png.Encode(&buf, white)
	if _, err := qr.Decode(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "no QR code") {
		t.Errorf("blank image: %v", err)
	}
}

// BenchmarkPNG is the time to render a share's QR code (8 px modules, as
// the API serves it).
func BenchmarkPNG(b *testing.B) {
	url := "https://certhub.example.gov.cn/s/" + strings.Repeat("x", 43)
	for b.Loop() {
		if _, err := qr.PNG(url, 8); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSVG(b *testing.B) {
	url := "https://certhub.example.gov.cn/s/" + strings.Repeat("x", 43)
	for b.Loop() {
		if _, err := qr.SVG(url); err != nil {
			b.Fatal(err)
		}
	}
}
