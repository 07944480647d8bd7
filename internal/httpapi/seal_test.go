package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/sealimage"
)

// testPNG encodes a w×h picture.
func testPNG(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < w*w/5 {
				img.Set(x, y, c)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withDimensions rewrites a PNG's header to claim other dimensions (with a
// correct CRC), leaving the pixel data as it was.
func withDimensions(p []byte, w, h uint32) []byte {
	out := append([]byte(nil), p...)
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func sealPath(code string) string { return "/api/v1/authorities/" + code + "/seal" }

// sealObjects lists the seal pictures stored for an authority.
func sealObjects(t *testing.T, h *hub, code string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.DocsDir, "seals", code))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSealImage(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) { t.Parallel(); testSealImage(t) })
	t.Run("PostgreSQL", func(t *testing.T) { t.Parallel(); testSealImage(t, hubtest.OnPostgres()) })
}

func testSealImage(t *testing.T, opts ...hubtest.Option) {
	h := newHub(t, opts...)
	h.seed()
	fontless := false
	if d, ok := h.Certs.Seals.(*sealimage.Drawer); !ok || d.Font() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no CJK font; CI needs fonts-noto-cjk")
		}
		fontless = true
	}

	// A new authority has its default seal, anyone may read it.
	st, hdr, body := h.raw("GET", sealPath(marketCode), "", "", nil)
	if st != 200 || hdr.Get("Content-Type") != "image/png" || !strings.HasPrefix(hdr.Get("Cache-Control"), "public") {
		t.Fatalf("default seal: %d %v", st, hdr)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("default seal is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != sealimage.Size || b.Dy() != sealimage.Size {
		t.Fatalf("default seal is %v", b)
	}
	c := float64(sealimage.Size) / 2
	for deg := 0.0; deg < 360; deg += 30 {
		a := deg * math.Pi / 180
		x, y := int(c+0.472*sealimage.Size*math.Sin(a)), int(c-0.472*sealimage.Size*math.Cos(a))
		if got := color.NRGBAModel.Convert(img.At(x, y)); got != sealimage.Red {
			t.Errorf("ring at %v° (%d,%d) = %v, want the seal's red", deg, x, y, got)
		}
	}
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	if hdr.Get("ETag") != `"`+sha+`"` {
		t.Fatalf("ETag %s, want the SHA-256 %s", hdr.Get("ETag"), sha)
	}
	if !fontless {
		// Drawn and stored when the authority was created, content-addressed.
		if objs := sealObjects(t, h, marketCode); len(objs) != 1 || objs[0] != sha+".png" {
			t.Fatalf("stored seals = %v, want [%s.png]", objs, sha)
		}
		seal, err := h.Store.GetSeal(context.Background(), marketCode)
		if err != nil || seal.SHA256 != sha || seal.Key != certificates.SealKey(marketCode, sha) {
			t.Fatalf("seal row = %+v, %v", seal, err)
		}
	}
	// Two authorities, two seals.
	_, _, other := h.raw("GET", sealPath(otherCode), "", "", nil)
	if bytes.Equal(other, body) && !fontless {
		t.Fatal("two authorities have the same default seal")
	}
	// Cached copies are revalidated by ETag.
	if st, _, b := h.raw("GET", sealPath(marketCode), "", "", nil, "If-None-Match", hdr.Get("ETag")); st != 304 || len(b) != 0 {
		t.Fatalf("If-None-Match: %d (%d bytes), want 304", st, len(b))
	}

	// Upload round trip.
	up := testPNG(t, 300, 300, color.NRGBA{R: 200, A: 255})
	var stored struct {
		Authority, SHA256, URL string
		Size                   int
	}
	st, _, b := h.raw("PUT", sealPath(marketCode), h.Admin, "image/png", up)
	if st != 200 {
		t.Fatalf("upload: %d %s", st, b)
	}
	_ = json.Unmarshal(b, &stored)
	upSum := sha256.Sum256(up)
	if stored.SHA256 != hex.EncodeToString(upSum[:]) || stored.Size != len(up) || stored.URL != sealPath(marketCode) || stored.Authority != marketCode {
		t.Fatalf("upload answer = %s", b)
	}
	st, hdr2, got := h.raw("GET", sealPath(marketCode), "", "", nil)
	if st != 200 || !bytes.Equal(got, up) || hdr2.Get("ETag") != `"`+stored.SHA256+`"` {
		t.Fatalf("after upload: %d, %d bytes, ETag %s", st, len(got), hdr2.Get("ETag"))
	}
	// The old ETag no longer matches: caches fetch the new picture.
	if st, _, _ := h.raw("GET", sealPath(marketCode), "", "", nil, "If-None-Match", hdr.Get("ETag")); st != 200 {
		t.Fatalf("stale ETag: %d, want 200", st)
	}
	// The same bytes again: accepted, nothing new stored.
	before := sealObjects(t, h, marketCode)
	if st, _, b := h.raw("PUT", sealPath(marketCode), h.Admin, "image/png; charset=binary", up); st != 200 {
		t.Fatalf("upload again: %d %s", st, b)
	}
	if after := sealObjects(t, h, marketCode); len(after) != len(before) {
		t.Fatalf("re-upload stored another object: %v → %v", before, after)
	}

	// Bad input: a 4xx naming the field, nothing stored, the seal unchanged.
	big := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, certificates.MaxSealBytes)...)
	small := testPNG(t, 40, 40, color.Black)
	for _, tc := range []struct {
		name        string
		code        string
		contentType string
		body        []byte
		status      int
		field       string
	}{
		{"empty", marketCode, "image/png", nil, 400, "body"},
		{"not a PNG", marketCode, "image/png", []byte("GIF89a this is not a PNG"), 400, "body"},
		{"JPEG", marketCode, "image/png", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0}, 400, "body"},
		{"truncated PNG", marketCode, "image/png", up[:len(up)/2], 400, "body"},
		{"damaged pixels", marketCode, "image/png", append(append([]byte(nil), up[:60]...), bytes.Repeat([]byte{0x55}, 200)...), 400, "body"},
		{"over 1 MiB", marketCode, "image/png", big, 413, "body"},
		{"too small", marketCode, "image/png", testPNG(t, 8, 8, color.Black), 400, "body"},
		{"one pixel high", marketCode, "image/png", testPNG(t, 600, 1, color.Black), 400, "body"},
		{"absurd dimensions", marketCode, "image/png", withDimensions(small, 100000, 100000), 400, "body"},
		{"too wide", marketCode, "image/png", withDimensions(small, 5000, 40), 400, "body"},
		{"JSON", marketCode, "application/json", []byte(`{}`), 400, "Content-Type"},
		{"no content type", marketCode, "", up, 400, "Content-Type"},
		{"unknown authority", "11330100MB0000003T", "image/png", up, 404, "code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sealObjects(t, h, marketCode)
			st, _, b := h.raw("PUT", sealPath(tc.code), h.Admin, tc.contentType, tc.body)
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			_ = json.Unmarshal(b, &e)
			if st != tc.status || e.Error.Field != tc.field || e.Error.Message == "" {
				t.Fatalf("%d %s; want %d naming %s", st, b, tc.status, tc.field)
			}
			if after := sealObjects(t, h, marketCode); len(after) != len(before) {
				t.Fatalf("refused upload stored an object: %v → %v", before, after)
			}
			if _, _, got := h.raw("GET", sealPath(marketCode), "", "", nil); !bytes.Equal(got, up) {
				t.Fatal("refused upload changed the seal")
			}
		})
	}
	if st, _, _ := h.raw("GET", sealPath("11330100MB0000003T"), "", "", nil); st != 404 {
		t.Fatalf("unknown authority's seal: %d, want 404", st)
	}
	if st, _, _ := h.raw("PUT", sealPath(otherCode), h.token("issuer", otherCode), "image/png", up); st != 403 {
		t.Fatalf("issuer upload: %d, want 403", st)
	}
}

// TestSealImageLazy: an authority created before seal pictures existed
// gets its default seal drawn and stored on first request; without a CJK
// font it gets ring and star, served but not stored.
func TestSealImageLazy(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	ctx := context.Background()
	const code = "11330100MB0000001R"
	if err := h.Store.CreateAuthority(ctx, &certificates.Authority{Code: code, Name: "杭州市市场监督管理局", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if seal, err := h.Store.GetSeal(ctx, code); err != nil || seal.Key != "" {
		t.Fatalf("seal before first request = %+v, %v", seal, err)
	}

	// No font: drawn each time, never stored, cached briefly.
	drawer := h.Certs.Seals
	h.Certs.Seals = &sealimage.Drawer{}
	st, hdr, body := h.raw("GET", sealPath(code), "", "", nil)
	if st != 200 || hdr.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("fontless seal: %d %v", st, hdr)
	}
	if _, err := png.Decode(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if seal, _ := h.Store.GetSeal(ctx, code); seal.Key != "" || len(sealObjects(t, h, code)) != 0 {
		t.Fatalf("a seal without its text was stored: %+v", seal)
	}

	h.Certs.Seals = drawer
	if d, ok := drawer.(*sealimage.Drawer); !ok || d.Font() == "" {
		t.Skip("no CJK font installed; the stored default cannot be checked")
	}
	st, hdr, first := h.raw("GET", sealPath(code), "", "", nil)
	if st != 200 || hdr.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("lazy seal: %d %v", st, hdr)
	}
	seal, err := h.Store.GetSeal(ctx, code)
	sum := sha256.Sum256(first)
	if err != nil || seal.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("lazy seal not stored: %+v, %v", seal, err)
	}
	if _, _, again := h.raw("GET", sealPath(code), "", "", nil); !bytes.Equal(again, first) {
		t.Fatal("second request drew another seal")
	}
}
