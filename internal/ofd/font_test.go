package ofd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/internal/testenv"
)

// TestFontSubset: the subset keeps the outline and advance of every rune
// used, under the same glyph ID, maps no other rune, is a small part of
// the font, and FreeType (through fontconfig's fc-query) reads it and finds
// exactly the runes used.
func TestFontSubset(t *testing.T) {
	t.Parallel()
	f := font(t)
	path, _ := ofd.FindFont(os.Getenv(ofd.FontEnv))
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	used := map[rune]bool{}
	const text = "食品经营许可证张三丰浙（2026）第330100-00042号 ABCxyz <&>"
	for _, r := range text {
		used[r] = true
	}
	sub, err := f.Subset(used)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) > len(full)/4 {
		t.Errorf("subset %d bytes of a %d-byte font", len(sub), len(full))
	}
	orig, err := sfnt.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sfnt.Parse(sub)
	if err != nil {
		t.Fatalf("the subset does not parse: %v", err)
	}
	var b1, b2 sfnt.Buffer
	ppem := fixed.I(100)
	for r := range used {
		g1, err1 := orig.GlyphIndex(&b1, r)
		g2, err2 := got.GlyphIndex(&b2, r)
		if err1 != nil || err2 != nil || g1 != g2 {
			t.Errorf("%q: glyph %d in the font, %d in the subset (%v %v)", r, g1, g2, err1, err2)
			continue
		}
		s1, err1 := orig.LoadGlyph(&b1, g1, ppem, nil)
		s2, err2 := got.LoadGlyph(&b2, g2, ppem, nil)
		if err1 != nil || err2 != nil || fmt.Sprint(s1) != fmt.Sprint(s2) {
			t.Errorf("%q: outline differs in the subset (%v %v)", r, err1, err2)
		}
		if r != ' ' && len(s2) == 0 {
			t.Errorf("%q: empty outline", r)
		}
		a1, _ := orig.GlyphAdvance(&b1, g1, ppem, 0)
		a2, _ := got.GlyphAdvance(&b2, g2, ppem, 0)
		if a1 != a2 {
			t.Errorf("%q: advance %v, subset %v", r, a1, a2)
		}
	}
	if g, err := got.GlyphIndex(&b2, '龍'); err != nil || g != 0 {
		t.Errorf("an unused rune is mapped in the subset: glyph %d (%v)", g, err)
	}

	// FreeType, through fontconfig, reads the subset and its charset is
	// exactly the runes used.
	fcQuery := testenv.Tool(t, "fc-query", "Debian package fontconfig")
	file := filepath.Join(t.TempDir(), "subset.ttf")
	if err := os.WriteFile(file, sub, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fcQuery, "-f", "%{charset}", file).CombinedOutput()
	if err != nil {
		t.Fatalf("fc-query: %v\n%s", err, out)
	}
	ranges := strings.Fields(string(out))
	var count int
	for _, rg := range ranges {
		var lo, hi rune
		if n, _ := fmt.Sscanf(rg, "%x-%x", &lo, &hi); n == 2 {
			count += int(hi-lo) + 1
		} else if n, _ := fmt.Sscanf(rg, "%x", &lo); n == 1 {
			count++
		}
	}
	for r := range used {
		if !inRanges(ranges, r) {
			t.Errorf("fc-query finds no %q (%04x) in the subset: %s", r, r, out)
		}
	}
	if count > len(used) {
		t.Errorf("fc-query finds %d characters in the subset, %d were used: %s", count, len(used), out)
	}
}

func inRanges(ranges []string, r rune) bool {
	for _, rg := range ranges {
		var lo, hi rune
		if n, _ := fmt.Sscanf(rg, "%x-%x", &lo, &hi); n == 2 && lo <= r && r <= hi {
			return true
		}
		if n, _ := fmt.Sscanf(rg, "%x", &lo); n == 1 && lo == r {
			return true
		}
	}
	return false
}

// TestFindFont: a configured font must be a usable CJK TrueType font.
func TestFindFont(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"/nonexistent/font.ttf", "no such file"},
		{"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "no glyph for"},
		{"font_test.go", "not a TrueType font"},
	} {
		if _, err := os.Stat(tc.path); err != nil && tc.want != "no such file" {
			continue // not installed here
		}
		_, err := ofd.FindFont(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ofd.FontEnv) {
			t.Errorf("%s: want an error naming %s and %q, got %v", tc.path, ofd.FontEnv, tc.want, err)
		}
	}
}
