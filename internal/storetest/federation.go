package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testFederation: the identity is one row that keeps its id, children are
// replaced by id and never take the identity's, and the last good
// directory is kept per source.
func testFederation(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.FederationSelf(ctx)
	mustCode(t, errs.NotFound, err)
	jwk := json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)
	self := &federation.Self{ID: "330100", Name: "杭州市电子证照库", URL: "https://city.example", Parent: "330000",
		ParentURL: "https://province.example", Root: federation.RootKey{HubID: "330000", KID: "k", JWK: jwk}, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.SetFederationSelf(ctx, self))
	self.Name = "杭州市"
	must(t, s.SetFederationSelf(ctx, self))
	got, err := s.FederationSelf(ctx)
	must(t, err)
	if got.Name != "杭州市" || got.Root.HubID != "330000" || string(got.Root.JWK) != string(jwk) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("identity read back as %+v", got)
	}

	child := func(id, name string) *federation.Child {
		return &federation.Child{Hub: federation.Hub{ID: id, Name: name, URL: "https://" + id + ".example", Parent: "330100",
			Keys:        []federation.Key{{KID: "c" + id, JWK: jwk, State: federation.KeyActive}},
			Authorities: []string{"11" + id + "MB0000001R"}, Types: []string{"T1"}},
			Description: "desc-" + name, AdmittedAt: t0, UpdatedAt: t0}
	}
	must(t, s.PutChild(ctx, child("330106", "西湖区")))
	must(t, s.PutChild(ctx, child("330102", "上城区")))
	again := child("330106", "西湖区电子证照库")
	again.UpdatedAt = t0.Add(time.Hour)
	must(t, s.PutChild(ctx, again))
	cs, err := s.Children(ctx)
	must(t, err)
	if len(cs) != 2 || cs[0].ID != "330102" || cs[1].Name != "西湖区电子证照库" || cs[1].Description != "desc-西湖区电子证照库" ||
		!cs[1].AdmittedAt.Equal(t0) || !cs[1].UpdatedAt.Equal(t0.Add(time.Hour)) || cs[1].Keys[0].KID != "c330106" {
		t.Fatalf("children read back as %+v %+v", cs[0], cs[1])
	}
	// The identity is never a child, nor a child the identity.
	mustCode(t, errs.Conflict, s.PutChild(ctx, child("330100", "自己")))
	self2 := *self
	self2.ID = "330106"
	mustCode(t, errs.Invalid, s.SetFederationSelf(ctx, &self2))

	must(t, s.PutDirectory(ctx, "330000", []byte("a.b.c"), t0))
	must(t, s.PutDirectory(ctx, "330000", []byte("d.e.f"), t0.Add(time.Minute)))
	must(t, s.PutDirectory(ctx, "330106", []byte("g.h.i"), t0))
	ds, err := s.Directories(ctx)
	must(t, err)
	if len(ds) != 2 || string(ds["330000"]) != "d.e.f" || string(ds["330106"]) != "g.h.i" {
		t.Fatalf("directories read back as %q", ds)
	}
}
