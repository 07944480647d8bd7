package ofd

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/certhub/certhub/internal/layout"
)

// Text placement. OFD measures a font's Size as the em height in mm and
// places a TextCode at its baseline.
const (
	ascent         = 0.86 // baseline below the top of the em box, in em
	watermarkGrey  = "200 200 200"
	watermarkAngle = -30 * math.Pi / 180 // rising to the right (OFD's y axis points down)
)

// content writes one page's Content.xml: the watermark in a background
// layer, then background images, other images and texts in the body layer.
// The seal image is not drawn: Signature.xml's StampAnnot puts the seal's
// own picture in its box.
func (p *pkg) content(i int, page layout.Page, used map[rune]bool) []byte {
	var b bytes.Buffer
	header(&b, "Page", "")
	b.WriteString("<ofd:Area><ofd:PhysicalBox>" + box(0, 0, page.WidthMM, page.HeightMM) + "</ofd:PhysicalBox></ofd:Area>")
	b.WriteString("<ofd:Content>")
	if page.Watermark != "" {
		fmt.Fprintf(&b, `<ofd:Layer ID="%d" Type="Background">`, p.id())
		p.watermark(&b, page, used)
		b.WriteString("</ofd:Layer>")
	}
	fmt.Fprintf(&b, `<ofd:Layer ID="%d" Type="Body">`, p.id())
	for _, bg := range []bool{true, false} {
		for _, im := range page.Images {
			if (im.Role == layout.Background) != bg {
				continue
			}
			if im.Role == layout.Seal && p.seal.page < 0 {
				p.seal.page = i
				p.seal.x, p.seal.y, p.seal.w, p.seal.h = im.X, im.Y, im.W, im.H
				continue
			}
			if im.Role == layout.Seal {
				continue // one seal per signature
			}
			res := p.id()
			p.imgIDs = append(p.imgIDs, res)
			p.images = append(p.images, file{fmt.Sprintf("Doc_0/Res/image_%d.png", res), im.PNG})
			fmt.Fprintf(&b, `<ofd:ImageObject ID="%d" Boundary="%s" CTM="%s 0 0 %s 0 0" ResourceID="%d"/>`,
				p.id(), box(im.X, im.Y, im.W, im.H), num(im.W), num(im.H), res)
		}
	}
	for _, t := range page.Texts {
		p.text(&b, t, used)
	}
	b.WriteString("</ofd:Layer></ofd:Content></ofd:Page>\n")
	return b.Bytes()
}

// advances returns the advance of every rune of s at size mm, and their sum.
func (p *pkg) advances(s string, size float64, used map[rune]bool) ([]float64, float64) {
	var adv []float64
	var total float64
	for _, r := range s {
		used[r] = true
		g, a := p.doc.Font.glyph(r)
		if g == 0 && !unicode.IsSpace(r) {
			p.missing[r] = true
		}
		adv = append(adv, a*size)
		total += a * size
	}
	return adv, total
}

func deltaX(adv []float64) string {
	if len(adv) < 2 {
		return ""
	}
	parts := make([]string, len(adv)-1)
	for i := range parts {
		parts[i] = num(adv[i])
	}
	return ` DeltaX="` + strings.Join(parts, " ") + `"`
}

func (p *pkg) text(b *bytes.Buffer, t layout.Text, used map[rune]bool) {
	if t.Text == "" {
		return
	}
	adv, width := p.advances(t.Text, t.SizeMM, used)
	if width > t.W {
		// Never past the box (layout.Text): a long value is set smaller.
		t.SizeMM *= t.W / width
		adv, width = p.advances(t.Text, t.SizeMM, used)
	}
	x := 0.0
	switch t.Align {
	case layout.Center:
		x = (t.W - width) / 2
	case layout.Right:
		x = t.W - width
	}
	y := (t.H-t.SizeMM)/2 + ascent*t.SizeMM
	weight := ""
	if t.Bold {
		weight = ` Weight="700"`
	}
	fmt.Fprintf(b, `<ofd:TextObject ID="%d" Boundary="%s" Font="%d" Size="%s"%s>`,
		p.id(), box(t.X, t.Y, t.W, t.H), p.fontID, num(t.SizeMM), weight)
	b.WriteString(`<ofd:FillColor Value="0 0 0"/>`)
	fmt.Fprintf(b, `<ofd:TextCode X="%s" Y="%s"%s>%s</ofd:TextCode>`, num(x), num(y), deltaX(adv), esc(t.Text))
	b.WriteString("</ofd:TextObject>")
}

// watermark draws the page's watermark once across the page centre, light
// grey, rotated by CTM, as large as fits.
func (p *pkg) watermark(b *bytes.Buffer, page layout.Page, used map[rune]bool) {
	size := math.Min(page.WidthMM, page.HeightMM) / 12
	_, width := p.advances(page.Watermark, size, used)
	if room := 0.85 * math.Hypot(page.WidthMM, page.HeightMM); width > room {
		size *= room / width
	}
	adv, width := p.advances(page.Watermark, size, used)
	cos, sin := math.Cos(watermarkAngle), math.Sin(watermarkAngle)
	// The text is set at (0, ascent·size) in its own space; the CTM turns
	// it about its centre and moves that centre to the page's.
	cx, cy := width/2, size/2
	e := page.WidthMM/2 - (cos*cx - sin*cy)
	f := page.HeightMM/2 - (sin*cx + cos*cy)
	ctm := strings.Join([]string{num4(cos), num4(sin), num4(-sin), num4(cos), num(e), num(f)}, " ")
	fmt.Fprintf(b, `<ofd:TextObject ID="%d" Boundary="%s" CTM="%s" Font="%d" Size="%s">`,
		p.id(), box(0, 0, page.WidthMM, page.HeightMM), ctm, p.fontID, num(size))
	b.WriteString(`<ofd:FillColor Value="` + watermarkGrey + `"/>`)
	fmt.Fprintf(b, `<ofd:TextCode X="0" Y="%s"%s>%s</ofd:TextCode>`, num(ascent*size), deltaX(adv), esc(page.Watermark))
	b.WriteString("</ofd:TextObject>")
}

func num4(v float64) string { return fmt.Sprintf("%.4f", v) }
