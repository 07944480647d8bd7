package sealimage_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/certhub/certhub/internal/sealimage"
)

// cjk returns a Drawer with a CJK font: in CI one must be installed
// (fonts-noto-cjk); elsewhere the test skips without one.
func cjk(t *testing.T) *sealimage.Drawer {
	t.Helper()
	d, err := sealimage.Open(os.Getenv("CERTHUB_SEAL_FONT"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Font() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no CJK font; CI needs fonts-noto-cjk")
		}
		t.Skip("no CJK font installed (apt-get install fonts-noto-cjk)")
	}
	return d
}

func decode(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("seal is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != sealimage.Size || b.Dy() != sealimage.Size {
		t.Fatalf("seal is %v, want %d×%d", b, sealimage.Size, sealimage.Size)
	}
	out := image.NewNRGBA(img.Bounds())
	for y := 0; y < sealimage.Size; y++ {
		for x := 0; x < sealimage.Size; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

// at reads the pixel at radius r (fraction of Size) and angle deg
// (clockwise from the top).
func at(img *image.NRGBA, r, deg float64) color.NRGBA {
	a := deg * math.Pi / 180
	c := float64(sealimage.Size) / 2
	return img.NRGBAAt(int(c+r*sealimage.Size*math.Sin(a)), int(c-r*sealimage.Size*math.Cos(a)))
}

func isRed(p color.NRGBA) bool { return p.A == 255 && p == sealimage.Red }

// inked counts the opaque pixels with radius between r0 and r1 (fractions
// of Size) above the centre line, where the name goes.
func inkedUpperArc(img *image.NRGBA, r0, r1 float64) int {
	n := 0
	c := float64(sealimage.Size) / 2
	for y := 0; y < sealimage.Size/2; y++ {
		for x := 0; x < sealimage.Size; x++ {
			d := math.Hypot(float64(x)-c, float64(y)-c) / sealimage.Size
			if d > r0 && d < r1 && img.NRGBAAt(x, y).A > 128 {
				n++
			}
		}
	}
	return n
}

func TestDrawSeal(t *testing.T) {
	t.Parallel()
	d := cjk(t)
	data, complete, err := d.DrawSeal("福州市市场监督管理局")
	if err != nil || !complete {
		t.Fatalf("DrawSeal: complete=%v, %v", complete, err)
	}
	img := decode(t, data)
	// The ring is red all the way round, the name never crosses it.
	for deg := 0.0; deg < 360; deg += 15 {
		if p := at(img, 0.472, deg); !isRed(p) {
			t.Errorf("ring at %v°: %v, want %v", deg, p, sealimage.Red)
		}
		if p := at(img, 0.499, deg); p.A != 0 {
			t.Errorf("outside the ring at %v°: %v, want transparent", deg, p)
		}
	}
	// The star: its centre and its top point are red; between its points
	// and the name, nothing.
	if p := at(img, 0, 0); !isRed(p) {
		t.Errorf("centre: %v, want red", p)
	}
	if p := at(img, 0.17, 0); !isRed(p) {
		t.Errorf("star's top point: %v, want red", p)
	}
	if p := at(img, 0.25, 90); p.A != 0 {
		t.Errorf("between star and name: %v, want transparent", p)
	}
	// The name is on the upper arc: plenty of ink between star and ring.
	if n := inkedUpperArc(img, 0.26, 0.45); n < 3000 {
		t.Errorf("only %d inked pixels where the name goes", n)
	}
	// Only the seal's red is used (anti-aliased edges vary in alpha only).
	for y := 0; y < sealimage.Size; y++ {
		for x := 0; x < sealimage.Size; x++ {
			if p := img.NRGBAAt(x, y); p.A == 255 && p != sealimage.Red {
				t.Fatalf("pixel (%d,%d) = %v, not the seal's red", x, y, p)
			}
		}
	}
	if dir := os.Getenv("CERTHUB_ARTIFACTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "seal-default.png"), data, 0o644)
	}

	// Another name, another picture; a long one still fits inside the ring.
	other, _, err := d.DrawSeal("某某省某某市某某区行政审批服务局电子证照管理中心")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, data) {
		t.Fatal("two names drew the same seal")
	}
	long := decode(t, other)
	for deg := 0.0; deg < 360; deg += 15 {
		if p := at(long, 0.499, deg); p.A != 0 {
			t.Errorf("long name: outside the ring at %v°: %v", deg, p)
		}
	}
}

// TestDrawSealWithoutFont: no CJK font still gives ring and star, says the
// picture is incomplete, and has no text.
func TestDrawSealWithoutFont(t *testing.T) {
	t.Parallel()
	var d sealimage.Drawer
	data, complete, err := d.DrawSeal("福州市市场监督管理局")
	if err != nil || complete {
		t.Fatalf("DrawSeal without font: complete=%v, %v", complete, err)
	}
	img := decode(t, data)
	if p := at(img, 0.472, 180); !isRed(p) {
		t.Errorf("ring: %v", p)
	}
	if p := at(img, 0, 0); !isRed(p) {
		t.Errorf("star: %v", p)
	}
	if n := inkedUpperArc(img, 0.26, 0.45); n != 0 {
		t.Errorf("%d inked pixels where the name would go; there is no font", n)
	}
}

func TestOpenFont(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "not-a-font.ttf")
	_ = os.WriteFile(bad, []byte("not a font"), 0o644)
	for name, path := range map[string]string{"missing": filepath.Join(dir, "absent.ttf"), "not a font": bad} {
		if _, err := sealimage.Open(path, nil); err == nil {
			t.Errorf("%s: Open(%s) succeeded; a configured font that cannot be used is an error", name, path)
		}
	}
	d := cjk(t)
	t.Logf("seal font: %s", d.Font())
}

// TestDrawSealDeterministic: the same name always draws the same bytes,
// also concurrently, so replicas drawing one authority's default seal at
// once store one content-addressed object.
func TestDrawSealDeterministic(t *testing.T) {
	t.Parallel()
	d := cjk(t)
	want, _, err := d.DrawSeal("杭州市市场监督管理局")
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]byte, 4)
	done := make(chan int)
	for i := range got {
		go func() {
			got[i], _, _ = d.DrawSeal("杭州市市场监督管理局")
			done <- i
		}()
	}
	for range got {
		<-done
	}
	for i, g := range got {
		if !bytes.Equal(g, want) {
			t.Fatalf("drawing %d differs from the first", i)
		}
	}
}
