package federation_test

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/signing"
)

// sealKeys gives a hub a seal key manager on its own store.
func sealKeys(t *testing.T, n *node) *signing.Manager {
	t.Helper()
	m, err := signing.NewManager(n.store, map[string]signing.Backend{"local": signing.NewLocalBackend(must(signing.GenerateMasterKey()))}, "local", nil)
	noErr(t, err)
	return m
}

func TestTrustLists(t *testing.T) {
	c := &clock{time.Now()}
	prov, city, county, _ := federation3(t, c)
	ctx := context.Background()
	keys := sealKeys(t, county)
	k := must(keys.CreateKey(ctx, "11330102MB0000001K", signing.SM2))
	tl := must(keys.TrustList(ctx, county.key, "https://county.example", nil, c.now()))
	entry := must(prov.svc.View(ctx)).Hub("330102")
	if entry == nil {
		t.Fatal("the province does not know the county")
	}

	got, err := federation.VerifyTrustList(tl, &entry.Hub, c.now(), true)
	if err != nil || len(got.Keys) != 1 || got.Keys[0].KID != k.KID {
		t.Fatalf("the county's trust list: %v %+v", err, got)
	}
	for _, bad := range []struct {
		name string
		tok  []byte
		at   time.Time
		want federation.Reason
	}{
		{"signed by the city", must(keys.TrustList(ctx, city.key, "https://county.example", nil, c.now())), c.now(), federation.BadTrustList},
		{"another typ", must(county.key.Sign([]byte(`{"iss":"x","iat":1,"exp":2,"keys":[]}`), federation.DirectoryType)), c.now(), federation.BadTrustList},
		{"tampered", []byte(tamper(t, string(tl), func(m map[string]any) { m["keys"] = []any{} })), c.now(), federation.BadTrustList},
		{"expired when fetched", tl, c.now().Add(signing.TrustListTTL + time.Second), federation.BadTrustList},
	} {
		if _, err := federation.VerifyTrustList(bad.tok, &entry.Hub, bad.at, true); federation.ReasonOf(err) != bad.want {
			t.Errorf("%s: %v, want %s", bad.name, err, bad.want)
		}
	}
	// Held from before, an expired list still says which keys the hub had.
	if _, err := federation.VerifyTrustList(tl, &entry.Hub, c.now().Add(signing.TrustListTTL+time.Second), false); err != nil {
		t.Errorf("a held expired list: %v", err)
	}

	// The province keeps it beside the directories; its directory is not
	// disturbed, and the county's key is found by kid.
	noErr(t, prov.store.PutDirectory(ctx, "trust-list:330102", tl, c.now()))
	c.t = c.t.Add(2 * time.Second) // past the cached view
	st := must(prov.svc.Status(ctx))
	if len(st.Hubs) != 3 || len(st.Dropped) != 0 {
		t.Fatalf("the province's view with a trust list held: %d hubs, dropped %v", len(st.Hubs), st.Dropped)
	}
	fk := must(prov.svc.ForeignKey(ctx, k.KID))
	if fk == nil || fk.Hub != "330102" || fk.Authority != "11330102MB0000001K" || fk.Alg != "SM2SM3" {
		t.Fatalf("the county's key at the province: %+v", fk)
	}
	if fk := must(prov.svc.ForeignKey(ctx, "no-such-kid")); fk != nil {
		t.Fatalf("an unknown kid: %+v", fk)
	}
	// The county's own keys are not foreign to it.
	noErr(t, county.store.PutDirectory(ctx, "trust-list:330102", tl, c.now()))
	if fk := must(county.svc.ForeignKey(ctx, k.KID)); fk != nil {
		t.Fatalf("the county's key is foreign to the county: %+v", fk)
	}

	// A key of an authority of the city's region: the whole list is refused.
	county.authority(t, "11330100MB0000001R")
	must(keys.CreateKey(ctx, "11330100MB0000001R", signing.ES256))
	wide := must(keys.TrustList(ctx, county.key, "https://county.example", nil, c.now()))
	if _, err := federation.VerifyTrustList(wide, &entry.Hub, c.now(), true); federation.ReasonOf(err) != federation.OutsideRegion {
		t.Fatalf("a key of another region: %v", err)
	}

	// Routing: by the hub that lists the authority, else the parent.
	for _, r := range []struct {
		n         *node
		authority string
		want      string
	}{
		{prov, "11330102MB0000001K", "330102"},
		{prov, "11330000MB0000001X", ""}, // its own
		{prov, "11330106MB0000001X", ""}, // the root, and no hub lists it
		{county, "11330000MB0000001X", "330000"},
		{county, "11330106MB0000001X", "330100"}, // its parent
		{city, "11330102MB0000001K", "330102"},
	} {
		if got := must(r.n.svc.Route(ctx, r.authority)); got != r.want {
			t.Errorf("route %s: %q, want %q", r.authority, got, r.want)
		}
	}
	if e, err := prov.svc.Live(ctx, "330102"); err != nil || e.URL != "https://county.example" {
		t.Fatalf("the county live: %v", err)
	}

	// Past its entry's exp the county gets no live call, but the province
	// still verifies with the county's last good trust list.
	c.t = c.t.Add(federation.EntryTTL + time.Minute)
	if _, err := prov.svc.Live(ctx, "330102"); federation.ReasonOf(err) != federation.NoRoute {
		t.Fatalf("the county's stale entry for a live call: %v", err)
	}
	if _, err := prov.svc.Live(ctx, "330106"); federation.ReasonOf(err) != federation.NoRoute {
		t.Fatalf("a hub no one knows: %v", err)
	}
	if fk := must(prov.svc.ForeignKey(ctx, k.KID)); fk == nil || fk.Hub != "330102" {
		t.Fatalf("the county's key from its stale list: %+v", fk)
	}
}
