// Package qr renders QR codes (boombuler/barcode) as PNG and SVG, with the
// 4-module quiet zone scanners need and error correction M, and decodes QR
// codes from photos and camera frames (gozxing).
package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // uploads may be GIF
	_ "image/jpeg"
	"image/png"
	"strings"

	"github.com/boombuler/barcode"
	bqr "github.com/boombuler/barcode/qr"
	"github.com/makiuchi-d/gozxing"
	zqr "github.com/makiuchi-d/gozxing/qrcode"
	_ "golang.org/x/image/webp" // phones save screenshots as WebP

	"github.com/certhub/certhub/internal/errs"
)

const quiet = 4 // modules of quiet zone on each side (ISO/IEC 18004)

func encode(text string) (barcode.Barcode, error) {
	return encodeWith(text, bqr.M, bqr.Auto)
}

func encodeWith(text string, level bqr.ErrorCorrectionLevel, mode bqr.Encoding) (barcode.Barcode, error) {
	code, err := bqr.Encode(text, level, mode)
	if err != nil {
		return nil, errs.Wrap(err, "encode QR")
	}
	return code, nil
}

// PNG renders text as a QR code PNG, scale pixels per module.
func PNG(text string, scale int) ([]byte, error) {
	code, err := encode(text)
	if err != nil {
		return nil, err
	}
	return renderPNG(code, scale)
}

// AlphanumericPNG renders text, which must be in the QR alphanumeric set
// (0-9, A-Z, space, $%*+-./:), in alphanumeric mode with error correction Q:
// the compact signed QR's profile, where a quarter of the code may be
// smudged or torn and still read, at 5.5 bits a character.
func AlphanumericPNG(text string, scale int) ([]byte, error) {
	code, err := encodeWith(text, bqr.Q, bqr.AlphaNumeric)
	if err != nil {
		return nil, err
	}
	return renderPNG(code, scale)
}

// renderPNG draws code with the quiet zone, scale pixels per module.
func renderPNG(code barcode.Barcode, scale int) ([]byte, error) {
	n := code.Bounds().Dx()
	side := (n + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !isDark(code.At(x, y)) {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				row := ((y+quiet)*scale + dy) * img.Stride
				for dx := 0; dx < scale; dx++ {
					img.Pix[row+(x+quiet)*scale+dx] = 0
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, errs.Wrap(err, "encode PNG")
	}
	return buf.Bytes(), nil
}

func isDark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}

// SVG renders text as a QR code SVG: one path of unit squares on a white
// background, scalable to any size.
func SVG(text string) ([]byte, error) {
	code, err := encode(text)
	if err != nil {
		return nil, err
	}
	return renderSVG(code, 0), nil
}

// AlphanumericSVG is AlphanumericPNG's code (alphanumeric mode, error
// correction Q) as an SVG whose natural size is scale pixels a module (a
// page shows it at whole pixels a module, which scanners read best).
func AlphanumericSVG(text string, scale int) ([]byte, error) {
	code, err := encodeWith(text, bqr.Q, bqr.AlphaNumeric)
	if err != nil {
		return nil, err
	}
	return renderSVG(code, scale), nil
}

// renderSVG draws code's modules with the quiet zone, one unit a module;
// scale > 0 gives it a natural size of scale pixels a module.
func renderSVG(code barcode.Barcode, scale int) []byte {
	n := code.Bounds().Dx()
	side := n + 2*quiet
	var b strings.Builder
	size := ""
	if scale > 0 {
		size = fmt.Sprintf(` width="%d" height="%d"`, side*scale, side*scale)
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg"%s viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="QR code">`, size, side, side)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, side, side)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if isDark(code.At(x, y)) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return []byte(b.String())
}

// Decode finds a QR code in an image (PNG, JPEG, GIF or WebP) and returns
// its text. Errors are errs.Invalid with a reason a person can act on.
func Decode(data []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return "", &errs.Error{Code: errs.Invalid, Field: "image", Message: "the file is not an image (PNG, JPEG, GIF or WebP)"}
	}
	src := gozxing.NewLuminanceSourceFromImage(img)
	// gozxing's finder-pattern search misses about 2 % of clean,
	// computer-drawn codes (a printed share, a screenshot) that a second
	// binarizer or the pure-barcode path read at once; photos go through
	// the same attempts in order, the most general first.
	attempts := []struct {
		binarizer func(gozxing.LuminanceSource) gozxing.Binarizer
		hints     map[gozxing.DecodeHintType]any
	}{
		{gozxing.NewHybridBinarizer, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}},
		{gozxing.NewGlobalHistgramBinarizer, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}},
		{gozxing.NewHybridBinarizer, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}},
	}
	for _, a := range attempts {
		bmp, err := gozxing.NewBinaryBitmap(a.binarizer(src))
		if err != nil {
			return "", &errs.Error{Code: errs.Invalid, Field: "image", Message: "the image cannot be read"}
		}
		if res, err := zqr.NewQRCodeReader().Decode(bmp, a.hints); err == nil {
			return res.GetText(), nil
		}
	}
	return "", &errs.Error{Code: errs.Invalid, Field: "image", Message: "no QR code was found in the image"}
}
