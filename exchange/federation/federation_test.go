package federation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// node is one hub: its own SQLite store and hub key.
type node struct {
	svc   *federation.Service
	store *sqlstore.Store
	key   *signing.HubKey
}

func newNode(t *testing.T, c *clock) *node {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	m, err := signing.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := signing.NewHubKey(m)
	if err != nil {
		t.Fatal(err)
	}
	return &node{svc: &federation.Service{Store: st, Catalog: st, Key: k, HubKeys: st, Now: c.now}, store: st, key: k}
}

func (n *node) authority(t *testing.T, code string) {
	t.Helper()
	if err := n.store.CreateAuthority(context.Background(), &certificates.Authority{Code: code, Name: "某局 " + code, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// must returns v, and panics (failing the test) on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// federation3 builds province 330000 (root), city 330100 under it and
// county 330102 under the city, with one authority each, admitted in
// turn; each hub has the others' directories as a refresh would fetch.
func federation3(t *testing.T, c *clock) (prov, city, county *node, root federation.RootKey) {
	t.Helper()
	ctx := context.Background()
	prov, city, county = newNode(t, c), newNode(t, c), newNode(t, c)
	prov.authority(t, "11330000MB0000001X")
	city.authority(t, "11330100MB0000001R")
	county.authority(t, "11330102MB0000001K")
	self := must(prov.svc.Init(ctx, federation.Self{ID: "330000", Name: "浙江省电子证照库", URL: "https://prov.example"}))
	root = self.Root
	must(city.svc.Init(ctx, federation.Self{ID: "330100", Name: "杭州市电子证照库", URL: "https://city.example",
		Parent: "330000", ParentURL: "https://prov.example", Root: root}))
	must(county.svc.Init(ctx, federation.Self{ID: "330102", Name: "上城区电子证照库", URL: "https://county.example",
		Parent: "330100", ParentURL: "https://city.example", Root: root}))
	must(prov.svc.Admit(ctx, must(city.svc.Describe(ctx, federation.AdmissionTTL)), "test"))
	must(city.svc.Admit(ctx, must(county.svc.Describe(ctx, federation.AdmissionTTL)), "test"))
	// Two rounds of what Refresh does, without HTTP.
	for range 2 {
		exchangeDirs(t, prov, city, county)
	}
	return prov, city, county, root
}

func exchangeDirs(t *testing.T, prov, city, county *node) {
	t.Helper()
	ctx := context.Background()
	at := time.Now()
	pd := must(prov.svc.Directory(ctx))
	noErr(t, city.store.PutDirectory(ctx, "330000", pd, at))
	cd := must(city.svc.Directory(ctx))
	noErr(t, county.store.PutDirectory(ctx, "330100", cd, at))
	noErr(t, prov.store.PutDirectory(ctx, "330100", cd, at))
	kd := must(county.svc.Directory(ctx))
	noErr(t, city.store.PutDirectory(ctx, "330102", kd, at))
	for _, n := range []*node{prov, city, county} {
		n.svc.Refresh(ctx) // no parent URL reachable: only forgets the cached view
	}
}

func TestDirectoryChain(t *testing.T) {
	c := &clock{time.Now()}
	prov, city, county, root := federation3(t, c)
	ctx := context.Background()
	for _, n := range []*node{prov, city, county} {
		d := must(n.svc.Directory(ctx))
		v, err := federation.VerifyDirectory(d, root, c.now(), false)
		if err != nil {
			t.Fatalf("%s: %v", n.key.KID(), err)
		}
		if len(v.Hubs) != 3 {
			t.Fatalf("directory of %s holds %d hubs: %v", v.Issuer, len(v.Hubs), v.Dropped)
		}
		k := v.Hub("330102")
		if k.Signer != "330100" || k.Parent != "330100" || k.Authorities[0] != "11330102MB0000001K" || k.TrustList != "https://county.example/.well-known/certhub-trust-list" {
			t.Fatalf("the county as %s's directory has it: %+v", v.Issuer, k)
		}
		if v.Hub("330000").Signer != "330000" || v.Hub("330100").Signer != "330000" {
			t.Fatal("the province and city entries are signed by the province")
		}
	}
	// Past exp the directory is refused for live use; kept as a last good
	// one it still says who is who, marked stale.
	d := must(county.svc.Directory(ctx))
	later := c.now().Add(federation.DirectoryTTL + time.Second)
	if _, err := federation.VerifyDirectory(d, root, later, false); federation.ReasonOf(err) != federation.ExpiredDirectory {
		t.Fatalf("an expired directory: %v", err)
	}
	v, err := federation.VerifyDirectory(d, root, later, true)
	if err != nil || len(v.Hubs) != 3 || !v.Hub("330102").Stale {
		t.Fatalf("a stale directory kept for verification: %v %+v", err, v)
	}
}

// tamper changes a compact JWS's payload without re-signing it.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw := must(base64.RawURLEncoding.DecodeString(parts[1]))
	var m map[string]any
	noErr(t, json.Unmarshal(raw, &m))
	edit(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(must(json.Marshal(m)))
	return strings.Join(parts, ".")
}

func TestDirectoryRefused(t *testing.T) {
	c := &clock{time.Now()}
	prov, city, _, root := federation3(t, c)
	ctx := context.Background()
	d := string(must(city.svc.Directory(ctx)))
	check := func(name string, tok string, want federation.Reason) {
		t.Helper()
		_, err := federation.VerifyDirectory([]byte(tok), root, c.now(), false)
		if federation.ReasonOf(err) != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
	// The directory's own payload changed: its signature fails.
	check("tampered directory", tamper(t, d, func(m map[string]any) { m["exp"] = m["exp"].(float64) + 3600 }), federation.BadSignature)
	// An entry changed (the county's URL pointed elsewhere), re-signed as a
	// whole by the city: the entry's own signature fails.
	var claims map[string]any
	noErr(t, json.Unmarshal(must(base64.RawURLEncoding.DecodeString(strings.Split(d, ".")[1])), &claims))
	entries := claims["entries"].([]any)
	for i, e := range entries {
		if strings.Contains(string(must(base64.RawURLEncoding.DecodeString(strings.Split(e.(string), ".")[1]))), "county.example") {
			entries[i] = tamper(t, e.(string), func(m map[string]any) { m["url"] = "https://evil.example" })
		}
	}
	resigned := must(city.key.Sign(must(json.Marshal(claims)), federation.DirectoryType))
	check("tampered entry", string(resigned), federation.BadEntry)
	// Unsigned (alg none) and not a JWS at all.
	parts := strings.Split(d, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"certhub-directory+jwt"}`)) + "." + parts[1] + "."
	check("unsigned", none, federation.BadSignature)
	check("garbage", "not a directory", federation.BadDirectory)
	// Signed by a hub no entry vouches for.
	stranger := newNode(t, c)
	claims["iss"] = "330106"
	strange := must(stranger.key.Sign(must(json.Marshal(claims)), federation.DirectoryType))
	check("unknown signer", string(strange), federation.BadEntry) // the tampered entry is still in claims
	// Another root: nothing chains.
	other := root
	other.HubID = "320000"
	if _, err := federation.VerifyDirectory([]byte(d), other, c.now(), false); federation.ReasonOf(err) != federation.UnknownSigner {
		t.Errorf("another root: %v", err)
	}
	_ = prov
}

func TestAdmissionRefused(t *testing.T) {
	c := &clock{time.Now()}
	ctx := context.Background()
	prov, city, _, root := federation3(t, c)
	admit := func(name string, by *node, desc []byte, want federation.Reason) {
		t.Helper()
		before := must(by.store.Children(ctx))
		_, err := by.svc.Admit(ctx, desc, "test")
		if federation.ReasonOf(err) != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
		if after := must(by.store.Children(ctx)); len(after) != len(before) {
			t.Errorf("%s: a refused admission stored a child", name)
		}
	}
	// A county holding an authority registered in another county.
	west := newNode(t, c)
	west.authority(t, "11330102MB0000009A") // 330102's, not 330106's
	must(west.svc.Init(ctx, federation.Self{ID: "330106", Name: "西湖区", URL: "https://west.example", Parent: "330100",
		ParentURL: "https://city.example", Root: root}))
	if _, err := west.svc.Describe(ctx, federation.AdmissionTTL); err == nil {
		t.Error("a hub holding an authority outside its region describes itself")
	}
	h := federation.Hub{ID: "330106", Name: "西湖区", URL: "https://west.example", Parent: "330100",
		Keys:        []federation.Key{{KID: west.key.KID(), JWK: west.key.PublicJWK(), State: federation.KeyActive}},
		Authorities: []string{"11330102MB0000009A"}, Types: []string{}}
	admit("authority outside the region", city, signDesc(t, west.key, h, c.now(), time.Hour), federation.OutsideRegion)
	// Naming another parent; a region that is not the parent's.
	h.Authorities = []string{"11330106MB0000009A"}
	admit("another parent", prov, signDesc(t, west.key, h, c.now(), time.Hour), federation.NotParent)
	h2 := h
	h2.ID, h2.Parent = "320106", "330100"
	admit("outside the parent's region", city, signDesc(t, west.key, h2, c.now(), time.Hour), federation.OutsideRegion)
	// Expired, not yet issued, signed by a key it does not list.
	admit("expired", city, signDesc(t, west.key, h, c.now().Add(-2*time.Hour), time.Hour), federation.BadDescription)
	stranger := newNode(t, c)
	admit("signed by another key", city, signDesc(t, stranger.key, h, c.now(), time.Hour), federation.BadDescription)
	admit("not a JWS", city, []byte("hello"), federation.BadDescription)
	// The right one is admitted; later descriptions must be signed by an
	// admitted key: a new key alone cannot take the hub over.
	if _, err := city.svc.Admit(ctx, signDesc(t, west.key, h, c.now(), time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	h.Keys = []federation.Key{{KID: stranger.key.KID(), JWK: stranger.key.PublicJWK(), State: federation.KeyActive}}
	admit("a takeover by another key", city, signDesc(t, stranger.key, h, c.now(), time.Hour), federation.BadDescription)
}

// signDesc signs a description as a hub's own, with any content.
func signDesc(t *testing.T, k *signing.HubKey, h federation.Hub, iat time.Time, ttl time.Duration) []byte {
	t.Helper()
	type st struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		federation.Hub
	}
	return must(k.Sign(must(json.Marshal(st{h.ID, h.ID, iat.Unix(), iat.Add(ttl).Unix(), h})), federation.DescriptionType))
}
