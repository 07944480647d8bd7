package storetest

import (
	"context"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/layout"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testTemplates: a type starts without a template; a stored one reads
// back exactly (artwork bytes included) and a second one replaces it; an
// unknown type is not found either way; the type itself is unchanged.
func testTemplates(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.GetTemplate(ctx, typeCode)
	mustCode(t, errs.NotFound, err)
	mustCode(t, errs.NotFound, s.SetTemplate(ctx, typeCode, &certificates.Template{Page: certificates.A4Portrait}, t0))
	SeedCatalog(t, s)

	tp, err := s.GetTemplate(ctx, typeCode)
	must(t, err)
	if tp != nil {
		t.Fatalf("new type's template = %+v, want none", tp)
	}
	art := []byte("\x89PNG\r\n\x1a\nnot really, but bytes round trip")
	want := &certificates.Template{
		Page:  certificates.A4Landscape,
		Title: certificates.Title{Text: "食品经营许可证（副本）", TextBox: certificates.TextBox{Box: certificates.Box{X: 10, Y: 10, W: 277, H: 15}, SizeMM: 9.5, Align: layout.Center, Bold: true}},
		Fields: []certificates.TemplateField{
			{Name: "holder_name", Label: "经营者名称", LabelBox: &certificates.TextBox{Box: certificates.Box{X: 20, Y: 40, W: 40, H: 8}, SizeMM: 4.5}, Value: certificates.TextBox{Box: certificates.Box{X: 62, Y: 40, W: 120, H: 8}, SizeMM: 4.5}},
			{Name: "address", Value: certificates.TextBox{Box: certificates.Box{X: 62, Y: 50, W: 120, H: 8}, SizeMM: 4.5}},
		},
		Seal:       certificates.Box{X: 200, Y: 140, W: 40, H: 40},
		QR:         certificates.Box{X: 20, Y: 150, W: 30, H: 30},
		Background: &certificates.Artwork{PNG: art},
	}
	must(t, s.SetTemplate(ctx, typeCode, want, t0))
	got, err := s.GetTemplate(ctx, typeCode)
	must(t, err)
	if got == nil || got.Page != certificates.A4Landscape || got.Title != want.Title || len(got.Fields) != 2 ||
		got.Fields[0].Label != "经营者名称" || *got.Fields[0].LabelBox != *want.Fields[0].LabelBox || got.Fields[1].LabelBox != nil ||
		got.Fields[1].Value != want.Fields[1].Value || got.Seal != want.Seal || got.QR != want.QR ||
		got.Background == nil || string(got.Background.PNG) != string(art) || got.Background.Box != nil {
		t.Fatalf("template = %+v, want %+v", got, want)
	}
	// A replacement replaces everything, artwork included.
	must(t, s.SetTemplate(ctx, typeCode, &certificates.Template{Page: certificates.CardSize, QR: certificates.Box{X: 1, Y: 1, W: 10, H: 10}}, t0))
	got, err = s.GetTemplate(ctx, typeCode)
	must(t, err)
	if got.Page != certificates.CardSize || got.Background != nil || len(got.Fields) != 0 {
		t.Fatalf("replaced template = %+v", got)
	}
	ty, err := s.GetType(ctx, typeCode)
	must(t, err)
	if ty.Name != "食品经营许可证" || len(ty.Fields) != 1 {
		t.Fatalf("type after template = %+v", ty)
	}
}
