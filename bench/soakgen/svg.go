package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// series is one line of a chart.
type series struct {
	name string
	y    []float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// niceStep picks a tick step of 1, 2 or 5 × 10^k giving about n ticks.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", math.Round(v*100)/100)
}

// writeSVG draws the series against x (seconds) as polylines on axes from
// zero, with ticks, axis titles and a legend: a plain SVG file that any
// browser or converter renders, with no dependency.
func writeSVG(path, title, ylabel string, x []float64, ss []series) error {
	const w, h, left, right, top, bottom = 760.0, 380.0, 64.0, 170.0, 36.0, 48.0
	pw, ph := w-left-right, h-top-bottom
	xmax, ymax := 1.0, 1.0
	for _, v := range x {
		xmax = math.Max(xmax, v)
	}
	for _, s := range ss {
		for _, v := range s.y {
			if !math.IsNaN(v) {
				ymax = math.Max(ymax, v)
			}
		}
	}
	ystep := niceStep(ymax, 5)
	ymax = math.Ceil(ymax*1.05/ystep) * ystep
	xunit, xdiv := "s", 1.0
	if xmax > 300 {
		xunit, xdiv = "min", 60
	}
	xstep := niceStep(xmax/xdiv, 8) * xdiv
	px := func(v float64) float64 { return left + v/xmax*pw }
	py := func(v float64) float64 { return top + ph - v/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	for v := 0.0; v <= ymax+ystep/2; v += ystep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(v), left+pw, py(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(v)+4, fmtTick(v))
	}
	for v := 0.0; v <= xmax+xstep/100; v += xstep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000"/>`+"\n", px(v), top+ph, px(v), top+ph+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(v), top+ph+18, fmtTick(v/xdiv))
	}
	fmt.Fprintf(&b, `<polyline points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="#000"/>`+"\n", left, top, left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">time since the load started (%s)</text>`+"\n", left+pw/2, h-8, xunit)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, html.EscapeString(ylabel))
	for i, s := range ss {
		c := palette[i%len(palette)]
		var pts []string
		for j, v := range s.y {
			if j < len(x) && !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x[j]), py(v)))
			}
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(pts, " "), c)
		ly := top + 10 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", left+pw+14, ly, left+pw+34, ly, c)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+pw+40, ly+4, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
