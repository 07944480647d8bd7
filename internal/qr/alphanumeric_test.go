package qr_test

import (
	"bytes"
	"image/png"
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
