package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testSeals: an authority starts without a seal picture; the first
// conditional set wins and a second one is a conflict; a replacing set
// always wins; an unknown authority is not found either way.
func testSeals(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.GetSeal(ctx, authCode)
	mustCode(t, errs.NotFound, err)
	mustCode(t, errs.NotFound, s.SetSeal(ctx, &certificates.Seal{Authority: authCode, Key: "k", SHA256: "h", UpdatedAt: t0}, true))
	mustCode(t, errs.NotFound, s.SetSeal(ctx, &certificates.Seal{Authority: authCode, Key: "k", SHA256: "h", UpdatedAt: t0}, false))
	SeedCatalog(t, s)

	seal, err := s.GetSeal(ctx, authCode)
	must(t, err)
	if seal.Key != "" || seal.SHA256 != "" || !seal.UpdatedAt.IsZero() || seal.Authority != authCode {
		t.Fatalf("new authority's seal = %+v, want none", seal)
	}
	drawn := &certificates.Seal{Authority: authCode, Key: certificates.SealKey(authCode, "aa11"), SHA256: "aa11", UpdatedAt: t0}
	must(t, s.SetSeal(ctx, drawn, false))
	// A second default (another replica) does not replace the first.
	other := &certificates.Seal{Authority: authCode, Key: certificates.SealKey(authCode, "bb22"), SHA256: "bb22", UpdatedAt: t0.Add(time.Second)}
	mustCode(t, errs.Conflict, s.SetSeal(ctx, other, false))
	seal, err = s.GetSeal(ctx, authCode)
	must(t, err)
	if seal.Key != drawn.Key || seal.SHA256 != "aa11" || !seal.UpdatedAt.Equal(t0) {
		t.Fatalf("seal = %+v, want %+v", seal, drawn)
	}
	// An upload replaces it.
	uploaded := &certificates.Seal{Authority: authCode, Key: certificates.SealKey(authCode, "cc33"), SHA256: "cc33", UpdatedAt: t0.Add(time.Hour)}
	must(t, s.SetSeal(ctx, uploaded, true))
	seal, err = s.GetSeal(ctx, authCode)
	must(t, err)
	if seal.Key != "seals/"+authCode+"/cc33.png" || seal.SHA256 != "cc33" || !seal.UpdatedAt.Equal(uploaded.UpdatedAt) {
		t.Fatalf("seal after upload = %+v", seal)
	}
	// The authority itself is unchanged.
	a, err := s.GetAuthority(ctx, authCode)
	must(t, err)
	if a.Name != "某市市场监督管理局" {
		t.Fatalf("authority = %+v", a)
	}
}
