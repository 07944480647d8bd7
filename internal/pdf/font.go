package pdf

import (
	"os"
	"strings"

	"github.com/certhub/certhub/internal/errs"
)

// LoadFont reads and parses the TrueType font file at path. Which file that
// is has one answer for OFD and PDF alike: ofd.FindFont, behind the one
// setting CERTHUB_LICENCE_FONT. errs.Invalid naming the file when it is
// not a font the writer can embed.
func LoadFont(path string) (*Font, error) {
	if strings.HasSuffix(strings.ToLower(path), ".ttc") {
		return nil, errs.Field("font", "%s is a TrueType collection (.ttc); give a single .ttf font with CJK, Latin and digits", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Wrap(err, "read PDF font")
	}
	f, err := NewFont(b)
	if err != nil {
		return nil, errs.Field("font", "%s: %v", path, err)
	}
	return f, nil
}
