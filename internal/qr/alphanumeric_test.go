package qr_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/certhub/certhub/internal/qr"
)

// TestAlphanumericPNG checks the compact QR's rendering: error correction
// Q, 4 px per module with a white 4-module quiet zone, and only the
// alphanumeric set accepted.
func TestAlphanumericPNG(t *testing.T) {
	t.Parallel()
	text := "CH1:" + strings.Repeat("6BF+XN%TS3DH0YOJ58S S-F2", 30)
	img, err := qr.AlphanumericPNG(text, 4)
	if err != nil {
		t.Fatal(err)
	}
	p, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(p)
	res, err := zqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil || res.GetText() != text {
		t.Fatalf("read back: %v", err)
	}
	if ecl := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ecl != "Q" {
		t.Fatalf("error correction %v, want Q", ecl)
	}
	for i := 0; i < p.Bounds().Dx(); i++ {
		for _, pt := range [][2]int{{i, 0}, {i, 15}, {0, i}, {15, i}} {
			if r, _, _, _ := p.At(pt[0], pt[1]).RGBA(); r != 0xffff {
				t.Fatalf("quiet zone is not white at %v", pt)
			}
		}
	}
	if _, err := qr.AlphanumericPNG("ch1:lower case", 4); err == nil {
		t.Fatal("lower case accepted in alphanumeric mode")
	}
}

// TestAlphanumericSVG draws the SVG's unit squares into an image at 4 px a
// module and reads it back: the same text, error correction Q, from the
// same module matrix as the PNG.
func TestAlphanumericSVG(t *testing.T) {
	t.Parallel()
	text := "CH1:" + strings.Repeat("6BF+XN%TS3DH0YOJ58S S-F2", 30)
	svg, err := qr.AlphanumericSVG(text, 4)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)"`).FindSubmatch(svg)
	if m == nil {
		t.Fatalf("no size and viewBox in %.150s", svg)
	}
	side, _ := strconv.Atoi(string(m[3]))
	if w, _ := strconv.Atoi(string(m[1])); w != 4*side {
		t.Fatalf("width %d for %d modules, want 4 px a module", w, side)
	}
	img := image.NewGray(image.Rect(0, 0, side*4, side*4))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	squares := regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllSubmatch(svg, -1)
	for _, sq := range squares {
		x, _ := strconv.Atoi(string(sq[1]))
		y, _ := strconv.Atoi(string(sq[2]))
		for dy := range 4 {
			for dx := range 4 {
				img.SetGray(x*4+dx, y*4+dy, color.Gray{})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	fromPNG, _ := qr.AlphanumericPNG(text, 4)
	if !bytes.Equal(buf.Bytes(), fromPNG) {
		p, _ := png.Decode(bytes.NewReader(fromPNG))
		if p.Bounds() != img.Bounds() {
			t.Fatalf("SVG is %v, PNG %v", img.Bounds(), p.Bounds())
		}
		for y := 0; y < p.Bounds().Dy(); y++ {
			for x := 0; x < p.Bounds().Dx(); x++ {
				if r, _, _, _ := p.At(x, y).RGBA(); uint8(r>>8) != img.GrayAt(x, y).Y {
					t.Fatalf("SVG and PNG differ at %d,%d", x, y)
				}
			}
		}
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := zqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil || res.GetText() != text {
		t.Fatalf("read back: %v", err)
	}
	if ecl := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ecl != "Q" {
		t.Fatalf("error correction %v, want Q", ecl)
	}
	if _, err := qr.AlphanumericSVG("ch1:lower case", 4); err == nil {
		t.Fatal("lower case accepted in alphanumeric mode")
	}
}
