package pdf

import (
	"os"
	"strings"

	"github.com/certhub/certhub/internal/errs"
)

// FontSetting is the suggested configuration name for the PDF font: the
// flag --pdf-font, the environment variable CERTHUB_PDF_FONT.
const FontSetting = "CERTHUB_PDF_FONT"

// FontCandidates are the installed fonts FindFont tries, in order: single
// TrueType (.ttf) files with CJK, Latin and digits. The OpenType/.ttc Noto
// CJK fonts are not among them: the PDF writer embeds TrueType outlines
// only, and DroidSansFallback has no digits.
var FontCandidates = []string{
	"/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",       // Debian fonts-arphic-gbsn00lp (Song)
	"/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", // Debian fonts-lxgw-wenkai
	"/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf",       // Debian fonts-arphic-gkai00mp (Kai)
}

// FindFont returns the font file to embed in PDFs: configured when set
// (it must exist and be a .ttf), else the first of FontCandidates that is
// installed. errs.Invalid naming FontSetting when the configured file will
// not do or none is installed, saying what to install.
func FindFont(configured string) (string, error) {
	if configured != "" {
		if strings.HasSuffix(strings.ToLower(configured), ".ttc") {
			return "", errs.Field(FontSetting, "%s is a TrueType collection (.ttc); give a single .ttf font with CJK, Latin and digits", configured)
		}
		st, err := os.Stat(configured)
		if err != nil {
			return "", errs.Field(FontSetting, "%s: %v", configured, err)
		}
		if st.IsDir() {
			return "", errs.Field(FontSetting, "%s is a directory, not a .ttf font", configured)
		}
		return configured, nil
	}
	for _, p := range FontCandidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errs.Field(FontSetting, "no CJK TrueType font is installed (looked in %s): apt-get install fonts-arphic-gbsn00lp "+
		"(or fonts-lxgw-wenkai), or set %s to a .ttf file", strings.Join(FontCandidates, ", "), FontSetting)
}

// LoadFont finds (FindFont) and parses the PDF font.
func LoadFont(configured string) (*Font, error) {
	p, err := FindFont(configured)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, errs.Wrap(err, "read PDF font")
	}
	f, err := NewFont(b)
	if err != nil {
		return nil, errs.Field(FontSetting, "%s: %v", p, err)
	}
	return f, nil
}
