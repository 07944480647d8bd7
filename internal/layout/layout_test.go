package layout

import (
	"errors"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/errs"
)

func TestValidate(t *testing.T) {
	ok := Page{WidthMM: A4Portrait[0], HeightMM: A4Portrait[1],
		Texts:  []Text{{X: 20, Y: 30, W: 170, H: 12, SizeMM: 8, Text: "食品经营许可证", Align: Center}},
		Images: []Image{{X: 150, Y: 240, W: 40, H: 40, PNG: []byte{1}, Role: Seal}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Texts = []Text{{X: 200, Y: 30, W: 20, H: 5, SizeMM: 4, Text: "x"}, {X: 10, Y: 10, W: 10, H: 2, SizeMM: 3}}
	bad.Images = []Image{{X: 10, Y: 10, W: 0, H: 5, PNG: []byte{1}}}
	err := bad.Validate()
	for _, want := range []string{"texts[0]", "overlaps the page edge", "texts[1].size_mm", "images[0]", "has no size"} {
		if err == nil || !strings.Contains(strings.Join(fields(err), " "), want) && !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in %v", want, err)
		}
	}
}

func fields(err error) []string {
	var e *errs.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+": "+f.Reason)
	}
	return out
}
