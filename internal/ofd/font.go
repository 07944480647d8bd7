package ofd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"golang.org/x/image/font/sfnt"
)

// FontEnv is the one setting (the environment variable cmd reads, flag
// --licence-font) that names the TrueType font licence files are written
// in, OFD and PDF alike; FindFont documents the lookup and is the only one.
const FontEnv = "CERTHUB_LICENCE_FONT"

// FontCandidates are the fonts FindFont looks for when none is configured:
// TrueType (.ttf, glyf outlines, not a .ttc collection) CJK fonts that also
// have Latin letters and digits.
var FontCandidates = []string{
	"/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
	"/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
	"/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf",
}

// FindFont returns the path of the font to embed in licence files: the
// configured one (FontEnv), which must be a usable CJK TrueType
// font, or else the first of FontCandidates present on the machine
// (Debian fonts-arphic-gbsn00lp, fonts-lxgw-wenkai). Unlike the seal
// drawing there is no fallback without a font: a licence without its text
// is not a licence.
func FindFont(configured string) (string, error) {
	if configured != "" {
		if _, err := LoadFont(configured); err != nil {
			return "", fmt.Errorf("OFD font %s (%s): %w", configured, FontEnv, err)
		}
		return configured, nil
	}
	for _, p := range FontCandidates {
		if _, err := os.Stat(p); err == nil {
			if _, err := LoadFont(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no CJK TrueType font for licence files: apt-get install fonts-arphic-gbsn00lp, or set %s to a .ttf file with Chinese, Latin and digits", FontEnv)
}

// Font is a parsed TrueType font, ready to be subset for each file. A Font
// is safe for concurrent use.
type Font struct {
	data   []byte
	parsed *sfnt.Font
	tables map[string][]byte
	units  float64 // units per em
	glyphs int
	name   string

	bufs sync.Pool // *sfnt.Buffer
}

var loadedFonts sync.Map // path -> *Font

// LoadFont reads and parses a font file once per process.
func LoadFont(path string) (*Font, error) {
	if f, ok := loadedFonts.Load(path); ok {
		return f.(*Font), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseFont(b)
	if err != nil {
		return nil, err
	}
	v, _ := loadedFonts.LoadOrStore(path, f)
	return v.(*Font), nil
}

// ParseFont parses TrueType bytes. The font must have glyf outlines (so it
// can be subset) and glyphs for Chinese, Latin letters and digits.
func ParseFont(b []byte) (*Font, error) {
	parsed, err := sfnt.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("not a TrueType font: %w", err)
	}
	f := &Font{data: b, parsed: parsed, tables: map[string][]byte{}}
	if len(b) < 12 {
		return nil, errors.New("not a TrueType font: too short")
	}
	if v := binary.BigEndian.Uint32(b); v != 0x00010000 && v != 0x74727565 { // 'true'
		return nil, errors.New("not a TrueType font with glyf outlines (a .ttc collection or CFF .otf cannot be embedded)")
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if 12+16*n > len(b) {
		return nil, errors.New("truncated table directory")
	}
	for i := 0; i < n; i++ {
		rec := b[12+16*i:]
		tag := string(rec[:4])
		off, length := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if uint64(off)+uint64(length) > uint64(len(b)) {
			return nil, fmt.Errorf("table %q runs past the end of the file", tag)
		}
		f.tables[tag] = b[off : off+length]
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if f.tables[tag] == nil {
			return nil, fmt.Errorf("no %s table (a TrueType font with glyf outlines is needed)", tag)
		}
	}
	if len(f.tables["head"]) < 54 || len(f.tables["maxp"]) < 6 || len(f.tables["hhea"]) < 36 {
		return nil, errors.New("head, hhea or maxp table too short")
	}
	f.units = float64(binary.BigEndian.Uint16(f.tables["head"][18:]))
	f.glyphs = int(binary.BigEndian.Uint16(f.tables["maxp"][4:]))
	if f.units == 0 || f.glyphs == 0 {
		return nil, errors.New("no units per em or no glyphs")
	}
	f.bufs.New = func() any { return new(sfnt.Buffer) }
	for _, r := range "章证A0" {
		if g, _ := f.glyph(r); g == 0 {
			return nil, fmt.Errorf("has no glyph for %q (Chinese, Latin letters and digits are needed)", r)
		}
	}
	buf := f.bufs.Get().(*sfnt.Buffer)
	f.name, _ = parsed.Name(buf, sfnt.NameIDFamily)
	f.bufs.Put(buf)
	if f.name == "" {
		f.name = "CJK"
	}
	return f, nil
}

// Name is the font's family name, as OFD's Font element carries it.
func (f *Font) Name() string { return f.name }

// glyph returns the glyph of r and its advance in em.
func (f *Font) glyph(r rune) (uint16, float64) {
	buf := f.bufs.Get().(*sfnt.Buffer)
	defer f.bufs.Put(buf)
	g, err := f.parsed.GlyphIndex(buf, r)
	if err != nil || g == 0 {
		return 0, 0.5
	}
	return uint16(g), f.advance(uint16(g))
}

// advance reads hmtx directly: sfnt's GlyphAdvance rounds to a pixel size.
func (f *Font) advance(g uint16) float64 {
	hmtx := f.tables["hmtx"]
	n := int(binary.BigEndian.Uint16(f.tables["hhea"][34:])) // numberOfHMetrics
	i := int(g)
	if i >= n {
		i = n - 1
	}
	if n == 0 || 4*i+2 > len(hmtx) {
		return 0.5
	}
	return float64(binary.BigEndian.Uint16(hmtx[4*i:])) / f.units
}

// Subset returns a TrueType font with the outlines of the runes used and
// nothing else. Glyph IDs are kept (unused glyphs become empty), so loca
// and hmtx keep every entry: their repeated values cost little once the
// package is deflated. Tables other than the ones a renderer needs (head,
// hhea, maxp, hmtx, loca, glyf, cmap, post, name, OS/2 and the hinting
// programs) are dropped; cmap maps only the runes used.
func (f *Font) Subset(used map[rune]bool) ([]byte, error) {
	loca, glyf := f.tables["loca"], f.tables["glyf"]
	long := binary.BigEndian.Uint16(f.tables["head"][50:]) == 1
	span := func(g int) (int, int, error) {
		var a, b int
		if long {
			if 4*g+8 > len(loca) {
				return 0, 0, fmt.Errorf("glyph %d outside loca", g)
			}
			a, b = int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:]))
		} else {
			if 2*g+4 > len(loca) {
				return 0, 0, fmt.Errorf("glyph %d outside loca", g)
			}
			a, b = 2*int(binary.BigEndian.Uint16(loca[2*g:])), 2*int(binary.BigEndian.Uint16(loca[2*g+2:]))
		}
		if a > b || b > len(glyf) {
			return 0, 0, fmt.Errorf("glyph %d has a bad loca span", g)
		}
		return a, b, nil
	}
	keep := map[int]bool{0: true}
	cmap := map[rune]uint16{}
	var todo []int
	for r := range used {
		if g, _ := f.glyph(r); g != 0 {
			cmap[r] = g
			todo = append(todo, int(g))
		}
	}
	todo = append(todo, 0)
	for len(todo) > 0 { // glyphs and, for composites, their components
		g := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		keep[g] = true
		a, b, err := span(g)
		if err != nil {
			return nil, err
		}
		comps, err := components(glyf[a:b])
		if err != nil {
			return nil, fmt.Errorf("glyph %d: %w", g, err)
		}
		for _, c := range comps {
			if int(c) >= f.glyphs {
				return nil, fmt.Errorf("glyph %d: component %d out of range", g, c)
			}
			if !keep[int(c)] {
				keep[int(c)] = true
				todo = append(todo, int(c))
			}
		}
	}
	var newGlyf bytes.Buffer
	newLoca := make([]byte, 4*(f.glyphs+1))
	for g := 0; g < f.glyphs; g++ {
		binary.BigEndian.PutUint32(newLoca[4*g:], uint32(newGlyf.Len()))
		if keep[g] {
			a, b, err := span(g)
			if err != nil {
				return nil, err
			}
			newGlyf.Write(glyf[a:b])
			for newGlyf.Len()%4 != 0 {
				newGlyf.WriteByte(0)
			}
		}
	}
	binary.BigEndian.PutUint32(newLoca[4*f.glyphs:], uint32(newGlyf.Len()))

	head := append([]byte(nil), f.tables["head"]...)
	binary.BigEndian.PutUint32(head[8:], 0)  // checksumAdjustment, set below
	binary.BigEndian.PutUint16(head[50:], 1) // indexToLocFormat: long
	post := make([]byte, 32)
	if p := f.tables["post"]; len(p) >= 32 {
		copy(post, p[:32])
	}
	binary.BigEndian.PutUint32(post, 0x00030000) // version 3: no glyph names
	tables := map[string][]byte{
		"head": head, "hhea": f.tables["hhea"], "maxp": f.tables["maxp"], "hmtx": f.tables["hmtx"],
		"loca": newLoca, "glyf": newGlyf.Bytes(), "cmap": buildCmap(cmap), "post": post,
	}
	for _, tag := range []string{"name", "OS/2", "cvt ", "fpgm", "prep", "gasp"} {
		if t := f.tables[tag]; t != nil {
			tables[tag] = t
		}
	}
	return assemble(tables), nil
}

// components lists the glyphs a composite glyph is made of.
func components(g []byte) ([]uint16, error) {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil, nil // empty or simple
	}
	var out []uint16
	p := 10
	for {
		if p+4 > len(g) {
			return nil, errors.New("truncated composite glyph")
		}
		flags := binary.BigEndian.Uint16(g[p:])
		out = append(out, binary.BigEndian.Uint16(g[p+2:]))
		p += 4
		if flags&0x0001 != 0 { // ARG_1_AND_2_ARE_WORDS
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&0x0008 != 0: // WE_HAVE_A_SCALE
			p += 2
		case flags&0x0040 != 0: // WE_HAVE_AN_X_AND_Y_SCALE
			p += 4
		case flags&0x0080 != 0: // WE_HAVE_A_TWO_BY_TWO
			p += 8
		}
		if flags&0x0020 == 0 { // MORE_COMPONENTS
			return out, nil
		}
	}
}

// buildCmap writes a cmap with a format 4 subtable (Windows Unicode BMP)
// and a format 12 one (Windows Unicode full), one segment per rune.
func buildCmap(m map[rune]uint16) []byte {
	runes := make([]rune, 0, len(m))
	for r := range m {
		runes = append(runes, r)
	}
	sort.Slice(runes, func(i, j int) bool { return runes[i] < runes[j] })
	var bmp []rune
	for _, r := range runes {
		if r < 0xFFFF {
			bmp = append(bmp, r)
		}
	}
	u16 := func(b *bytes.Buffer, v uint16) { _ = binary.Write(b, binary.BigEndian, v) }
	u32 := func(b *bytes.Buffer, v uint32) { _ = binary.Write(b, binary.BigEndian, v) }

	var f4 bytes.Buffer
	seg := len(bmp) + 1
	search, selector := 1, 0
	for search*2 <= seg {
		search *= 2
		selector++
	}
	u16(&f4, 4)
	u16(&f4, uint16(16+8*seg))
	u16(&f4, 0) // language
	u16(&f4, uint16(2*seg))
	u16(&f4, uint16(2*search))
	u16(&f4, uint16(selector))
	u16(&f4, uint16(2*seg-2*search))
	for _, r := range bmp { // endCode
		u16(&f4, uint16(r))
	}
	u16(&f4, 0xFFFF)
	u16(&f4, 0)             // reservedPad
	for _, r := range bmp { // startCode
		u16(&f4, uint16(r))
	}
	u16(&f4, 0xFFFF)
	for _, r := range bmp { // idDelta
		u16(&f4, m[r]-uint16(r))
	}
	u16(&f4, 1)
	for i := 0; i < seg; i++ { // idRangeOffset
		u16(&f4, 0)
	}

	var f12 bytes.Buffer
	u16(&f12, 12)
	u16(&f12, 0)
	u32(&f12, uint32(16+12*len(runes)))
	u32(&f12, 0) // language
	u32(&f12, uint32(len(runes)))
	for _, r := range runes {
		u32(&f12, uint32(r))
		u32(&f12, uint32(r))
		u32(&f12, uint32(m[r]))
	}

	var out bytes.Buffer
	u16(&out, 0) // version
	u16(&out, 2)
	u16(&out, 3) // Windows, Unicode BMP
	u16(&out, 1)
	u32(&out, 20)
	u16(&out, 3) // Windows, Unicode full
	u16(&out, 10)
	u32(&out, uint32(20+f4.Len()))
	out.Write(f4.Bytes())
	out.Write(f12.Bytes())
	return out.Bytes()
}

// assemble writes an sfnt file: the table directory sorted by tag, each
// table 4-byte aligned with its checksum, and head's checksumAdjustment.
func assemble(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	search, selector := 1, 0
	for search*2 <= n {
		search *= 2
		selector++
	}
	size := 12 + 16*n
	for _, t := range tags {
		size += (len(tables[t]) + 3) &^ 3
	}
	out := make([]byte, size)
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	binary.BigEndian.PutUint16(out[6:], uint16(16*search))
	binary.BigEndian.PutUint16(out[8:], uint16(selector))
	binary.BigEndian.PutUint16(out[10:], uint16(16*n-16*search))
	off, headOff := 12+16*n, 0
	for i, t := range tags {
		b := tables[t]
		rec := out[12+16*i:]
		copy(rec, t)
		copy(out[off:], b)
		binary.BigEndian.PutUint32(rec[4:], checksum(out[off:off+(len(b)+3)&^3]))
		binary.BigEndian.PutUint32(rec[8:], uint32(off))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(b)))
		if t == "head" {
			headOff = off
		}
		off += (len(b) + 3) &^ 3
	}
	binary.BigEndian.PutUint32(out[headOff+8:], 0xB1B0AFBA-checksum(out))
	return out
}

func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i+4 <= len(b); i += 4 {
		s += binary.BigEndian.Uint32(b[i:])
	}
	if r := len(b) % 4; r != 0 {
		var last [4]byte
		copy(last[:], b[len(b)-r:])
		s += binary.BigEndian.Uint32(last[:])
	}
	return s
}
