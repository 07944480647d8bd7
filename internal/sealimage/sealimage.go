// Package sealimage draws the default seal picture (印章图片) of an issuing
// authority: the standard round red seal, with a red ring, the authority's
// name along the upper arc in a CJK font, a five-pointed star in the centre
// and "电子证照专用章" under it.
//
// The hub embeds no font: CJK fonts are 10–30 MB. It uses a font installed
// on the machine instead: the file named by CERTHUB_SEAL_FONT, or else the
// first of the usual Debian fonts that is present (fonts-noto-cjk,
// fonts-arphic-gbsn00lp, fonts-wqy-zenhei, fonts-lxgw-wenkai). Without one
// the seal still has its ring and star but no text; such a picture is
// served and not stored, so the seal is drawn again, with its text, once a
// font is installed.
package sealimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// Size is the width and height of a drawn seal, in pixels: about 300 dpi
// for the usual 42 mm seal.
const Size = 512

// Red is the seal's colour (印泥红).
var Red = color.NRGBA{R: 0xD9, G: 0x1E, B: 0x26, A: 0xFF}

// Motto is the horizontal text under the star.
const Motto = "电子证照专用章"

// Geometry, as fractions of Size.
const (
	ringOuter  = 0.488 // outer radius of the ring
	ringWidth  = 0.032
	starRadius = 0.18
	arcSpan    = 220 * math.Pi / 180 // the name never runs further round than this
	nameEm     = 0.15                // font size of the name, shrunk for long names
	mottoEm    = 0.072
	mottoY     = 0.29 // centre of the motto below the seal's centre
	condense   = 0.88 // seal lettering is narrower than it is tall
)

// Candidates are the fonts looked for when no font is configured, best
// first: bold Song (serif) faces look most like a carved seal.
var Candidates = []string{
	"/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
	"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
}

// Drawer draws seals; it implements certificates.SealDrawer. The zero
// Drawer has no font and draws ring and star only.
type Drawer struct {
	face   *sfnt.Font
	source string
	log    *slog.Logger
	warn   sync.Once
}

// Open returns a Drawer with a CJK font. A configured path must hold a
// usable CJK font (an error otherwise: the operator asked for it). With
// path empty the Candidates are tried, then fontconfig (fc-match); when
// none is usable the Drawer draws without text and log gets a warning.
func Open(path string, log *slog.Logger) (*Drawer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path != "" {
		face, source, err := loadFont(path)
		if err != nil {
			return nil, fmt.Errorf("seal font %s (CERTHUB_SEAL_FONT): %w", path, err)
		}
		return &Drawer{face: face, source: source, log: log}, nil
	}
	try := func(p string) *Drawer {
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		face, source, err := loadFont(p)
		if err != nil {
			log.Warn("seal font unusable; trying the next", "path", p, "err", err.Error())
			return nil
		}
		return &Drawer{face: face, source: source, log: log}
	}
	paths := append([]string(nil), Candidates...)
	for _, p := range paths {
		if d := try(p); d != nil {
			return d, nil
		}
	}
	// Not where Debian puts them: ask fontconfig, if it is installed.
	if p := fcMatch(); p != "" {
		if d := try(p); d != nil {
			return d, nil
		}
		paths = append(paths, p)
	}
	log.Warn("no CJK font found: default seals are drawn without the authority's name and not stored until one is installed "+
		"(apt-get install fonts-noto-cjk, or set CERTHUB_SEAL_FONT to a .ttf/.otf/.ttc file)", "looked_in", strings.Join(paths, ", "))
	return &Drawer{log: log}, nil
}

// Font says which font the Drawer uses ("" when none).
func (d *Drawer) Font() string { return d.source }

// fcMatch asks fontconfig for a Simplified Chinese font, if it is installed.
func fcMatch() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "fc-match", "-f", "%{file}", ":lang=zh-cn").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// fonts holds every font file opened, by path: files are read on demand
// (a CJK collection is 20 MB or more) and stay open for the process.
var fonts sync.Map // path -> *loaded

type loaded struct {
	face   *sfnt.Font
	source string
	err    error
}

func loadFont(path string) (*sfnt.Font, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	if v, ok := fonts.Load(abs); ok {
		l := v.(*loaded)
		return l.face, l.source, l.err
	}
	face, source, err := parseFont(abs)
	if err != nil {
		return nil, "", err // not cached: the operator may fix the file
	}
	v, _ := fonts.LoadOrStore(abs, &loaded{face: face, source: source})
	l := v.(*loaded)
	return l.face, l.source, nil
}

// parseFont opens a .ttf, .otf or .ttc file and picks its Simplified
// Chinese face (a collection holds several regional variants).
func parseFont(path string) (*sfnt.Font, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	c, err := sfnt.ParseCollectionReaderAt(f)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("not a TrueType/OpenType font or collection: %w", err)
	}
	var buf sfnt.Buffer
	var best *sfnt.Font
	var bestName string
	for i := 0; i < c.NumFonts(); i++ {
		face, err := c.Font(i)
		if err != nil {
			continue
		}
		if g, err := face.GlyphIndex(&buf, '章'); err != nil || g == 0 {
			continue // not a Chinese face
		}
		name, _ := face.Name(&buf, sfnt.NameIDFull)
		if best == nil || isSimplified(name) && !isSimplified(bestName) {
			best, bestName = face, name
		}
	}
	if best == nil {
		f.Close()
		return nil, "", errors.New("has no Chinese characters (no glyph for 章)")
	}
	return best, fmt.Sprintf("%s (%s)", path, bestName), nil
}

func isSimplified(name string) bool {
	return strings.Contains(name, " SC") || strings.Contains(name, "GB") || strings.Contains(name, "简")
}

// DrawSeal draws the seal of the authority named name as a PNG of
// Size×Size pixels on a transparent background. complete is false when
// there is no font, so the name is missing.
func (d *Drawer) DrawSeal(name string) ([]byte, bool, error) {
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	src := image.NewUniform(Red)
	c := float32(Size) / 2
	z := vector.NewRasterizer(Size, Size)
	paint := func() { z.Draw(img, img.Bounds(), src, image.Point{}); z.Reset(Size, Size) }

	// The ring: the outer circle one way, the inner the other, so the
	// winding cancels inside.
	circle(z, c, c, ringOuter*Size, false)
	circle(z, c, c, (ringOuter-ringWidth)*Size, true)
	paint()
	star(z, c, c, starRadius*Size)
	paint()

	complete := d.face != nil
	if complete {
		if err := d.arcText(z, paint, []rune(strings.TrimSpace(name))); err != nil {
			return nil, false, err
		}
		if err := d.lineText(z, paint, []rune(Motto), c, c+mottoY*Size, mottoEm*Size); err != nil {
			return nil, false, err
		}
	} else if d.log != nil {
		d.warn.Do(func() {
			d.log.Warn("drawing seals without text: no CJK font (install fonts-noto-cjk or set CERTHUB_SEAL_FONT)")
		})
	}
	var out bytes.Buffer
	if err := png.Encode(&out, paletted(img)); err != nil {
		return nil, false, err
	}
	return out.Bytes(), complete, nil
}

// paletted turns the drawing, all one red at varying coverage, into an
// image of 256 alpha levels of that red: a quarter of the bytes to
// compress, and a PNG of a few kilobytes.
func paletted(img *image.RGBA) *image.Paletted {
	pal := make(color.Palette, 256)
	for a := range pal {
		pal[a] = color.NRGBA{R: Red.R, G: Red.G, B: Red.B, A: uint8(a)}
	}
	out := image.NewPaletted(img.Bounds(), pal)
	for i := 0; i < len(out.Pix); i++ {
		out.Pix[i] = img.Pix[4*i+3] // every pixel is Red scaled by its alpha
	}
	return out
}

// circle adds a circle of four cubic Béziers, clockwise on screen unless
// reverse.
func circle(z *vector.Rasterizer, cx, cy, r float32, reverse bool) {
	const k = 0.5522847498
	kr := k * r
	s := float32(1)
	if reverse {
		s = -1
	}
	z.MoveTo(cx+r, cy)
	z.CubeTo(cx+r, cy+s*kr, cx+kr, cy+s*r, cx, cy+s*r)
	z.CubeTo(cx-kr, cy+s*r, cx-r, cy+s*kr, cx-r, cy)
	z.CubeTo(cx-r, cy-s*kr, cx-kr, cy-s*r, cx, cy-s*r)
	z.CubeTo(cx+kr, cy-s*r, cx+r, cy-s*kr, cx+r, cy)
	z.ClosePath()
}

// star adds a five-pointed star with one point up.
func star(z *vector.Rasterizer, cx, cy, r float32) {
	inner := r * float32(math.Sin(math.Pi/10)/math.Sin(7*math.Pi/10))
	for i := 0; i < 10; i++ {
		rr := r
		if i%2 == 1 {
			rr = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		x, y := cx+rr*float32(math.Cos(a)), cy+rr*float32(math.Sin(a))
		if i == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
}

// arcText sets the name clockwise along the upper arc, centred on the top,
// each character upright towards the rim. Long names get smaller
// characters so they stay within arcSpan.
func (d *Drawer) arcText(z *vector.Rasterizer, paint func(), name []rune) error {
	n := len(name)
	if n == 0 {
		return nil
	}
	inner := float64(ringOuter-ringWidth) * Size
	em := nameEm * Size
	radius := func(em float64) float64 { return inner - 0.1*em - 0.55*em }
	step := 0.0
	if n > 1 {
		// A character takes condense·em of the arc, plus a little air;
		// short names spread out, but not so far that they look scattered.
		for range 3 {
			need := em * (condense + 0.08) / radius(em)
			fit := arcSpan / float64(n-1)
			if need > fit {
				em *= fit / need
			}
		}
		r := radius(em)
		step = min(arcSpan/float64(n-1), em*1.45/r)
	}
	r := radius(em)
	var buf sfnt.Buffer
	for i, ch := range name {
		if unicode.IsSpace(ch) {
			continue
		}
		theta := (float64(i) - float64(n-1)/2) * step
		sin, cos := math.Sin(theta), math.Cos(theta)
		cx, cy := Size/2+r*sin, Size/2-r*cos
		// right = (cos, sin), down = (-sin, cos)
		err := d.glyph(z, &buf, ch, em, func(lx, ly float64) (float32, float32) {
			return float32(cx + lx*cos - ly*sin), float32(cy + lx*sin + ly*cos)
		})
		if err != nil {
			return err
		}
	}
	paint() // characters do not overlap: one pass draws them all
	return nil
}

// lineText sets a horizontal line of text centred on (cx, cy).
func (d *Drawer) lineText(z *vector.Rasterizer, paint func(), text []rune, cx, cy, em float32) error {
	var buf sfnt.Buffer
	pitch := float64(em) * condense
	x0 := float64(cx) - pitch*float64(len(text)-1)/2
	for i, ch := range text {
		x := x0 + float64(i)*pitch
		err := d.glyph(z, &buf, ch, float64(em), func(lx, ly float64) (float32, float32) {
			return float32(x + lx), float32(float64(cy) + ly)
		})
		if err != nil {
			return err
		}
	}
	paint()
	return nil
}

// glyph adds the outline of ch at size em, in coordinates centred on the
// character's box (condensed horizontally), mapped to the image by at. A
// character the font lacks is left out.
func (d *Drawer) glyph(z *vector.Rasterizer, buf *sfnt.Buffer, ch rune, em float64, at func(lx, ly float64) (float32, float32)) error {
	g, err := d.face.GlyphIndex(buf, ch)
	if err != nil || g == 0 {
		return nil
	}
	ppem := fixed.Int26_6(math.Round(em * 64))
	adv, err := d.face.GlyphAdvance(buf, g, ppem, font.HintingNone)
	if err != nil {
		return fmt.Errorf("glyph %q: %w", ch, err)
	}
	segs, err := d.face.LoadGlyph(buf, g, ppem, nil)
	if err != nil {
		return fmt.Errorf("glyph %q: %w", ch, err)
	}
	half := float64(adv) / 64 / 2
	// CJK glyphs fill about 0.88 em above the baseline and 0.12 em below:
	// their middle is 0.38 em above it.
	mid := 0.38 * em
	p := func(v fixed.Point26_6) (float32, float32) {
		return at((float64(v.X)/64-half)*condense, float64(v.Y)/64+mid)
	}
	for i, s := range segs {
		switch s.Op {
		case sfnt.SegmentOpMoveTo:
			if i > 0 {
				z.ClosePath() // MoveTo does not close the contour before
			}
			z.MoveTo(p(s.Args[0]))
		case sfnt.SegmentOpLineTo:
			z.LineTo(p(s.Args[0]))
		case sfnt.SegmentOpQuadTo:
			bx, by := p(s.Args[0])
			cx, cy := p(s.Args[1])
			z.QuadTo(bx, by, cx, cy)
		case sfnt.SegmentOpCubeTo:
			bx, by := p(s.Args[0])
			cx, cy := p(s.Args[1])
			dx, dy := p(s.Args[2])
			z.CubeTo(bx, by, cx, cy, dx, dy)
		}
	}
	z.ClosePath()
	return nil
}
