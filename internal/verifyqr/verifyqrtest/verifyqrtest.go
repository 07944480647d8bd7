// Package verifyqrtest makes the real artifacts an offline verifier caches
// and scans, for the tests of internal/verifyqr and `certhub verify-qr`:
// seal keys in a real (SQLite) key store, the trust list signing.Manager
// signs with a real hub key, compact QR texts sealed with those keys, and
// IETF Token Status Lists encoded here with the standard library straight
// from the specification (an implementation independent of the hub's),
// signed by the hub key.
package verifyqrtest

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/signing"
)

// The authorities of the fixture.
const (
	Market      = "11330100MB0000001R" // 杭州市市场监督管理局: ES256 (one retired) and EdDSA keys
	MarketName  = "杭州市市场监督管理局"
	Health      = "11330100MB0000002P" // a second authority whose key is compromised
	HealthName  = "杭州市卫生健康委员会"
	Hub         = "https://zwfw.hangzhou.gov.cn"
	FoodLicence = Market + "002"
)

// SealKey is a seal key with its signer.
type SealKey struct {
	Key        *signing.Key
	Signer     crypto.Signer
	Thumbprint []byte // RFC 7638 SHA-256
}

// Fixture is a hub's keys at Now.
type Fixture struct {
	Now   time.Time
	Hub   *signing.HubKey
	Other *signing.HubKey // another hub's key: what it signs is not the hub's
	Keys  *signing.Manager
	// ES256 and EdDSA are the market bureau's active keys; Retired its ES256
	// key retired at RetiredAt; Compromised the health commission's key,
	// compromised from CompromisedFrom.
	ES256, EdDSA, Retired, Compromised *SealKey
	RetiredAt, CompromisedFrom         time.Time
	// KeysFrom is when the first keys were made.
	KeysFrom time.Time

	mu    sync.Mutex
	clock time.Time
}

func (f *Fixture) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.clock }

func (f *Fixture) set(t time.Time) { f.mu.Lock(); defer f.mu.Unlock(); f.clock = t }

// New makes the keys: created 30 days ago, the first ES256 key retired 10
// days ago, the health commission's key compromised from an hour ago.
func New(t testing.TB) *Fixture {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	f := &Fixture{Now: now, KeysFrom: now.AddDate(0, 0, -30), RetiredAt: now.AddDate(0, 0, -10), CompromisedFrom: now.Add(-time.Hour)}
	f.set(f.KeysFrom)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "certhub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	for code, name := range map[string]string{Market: MarketName, Health: HealthName} {
		if err := store.CreateAuthority(ctx, &certificates.Authority{Code: code, Name: name, CreatedAt: f.KeysFrom}); err != nil {
			t.Fatal(err)
		}
	}
	master, _ := signing.GenerateMasterKey()
	backend := signing.NewLocalBackend(master)
	if f.Keys, err = signing.NewManager(store, map[string]signing.Backend{"local": backend}, "local", f.now); err != nil {
		t.Fatal(err)
	}
	if f.Hub, err = signing.NewHubKey(master); err != nil {
		t.Fatal(err)
	}
	other, _ := signing.GenerateMasterKey()
	if f.Other, err = signing.NewHubKey(other); err != nil {
		t.Fatal(err)
	}
	open := func(k *signing.Key, err error) *SealKey {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		s, err := backend.Signer(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return &SealKey{Key: k, Signer: s, Thumbprint: Thumbprint(t, k.PublicJWK)}
	}
	f.Retired = open(f.Keys.CreateKey(ctx, Market, signing.ES256))
	f.EdDSA = open(f.Keys.AddKey(ctx, Market, signing.EdDSA))
	f.Compromised = open(f.Keys.CreateKey(ctx, Health, signing.ES256))
	f.set(f.RetiredAt)
	f.ES256 = open(f.Keys.Rotate(ctx, Market, signing.ES256))
	f.set(now)
	if _, err := f.Keys.Compromise(ctx, f.Compromised.Key.KID, f.CompromisedFrom, "test"); err != nil {
		t.Fatal(err)
	}
	return f
}

// Thumbprint is a JWK's RFC 7638 SHA-256 thumbprint.
func Thumbprint(t testing.TB, j []byte) []byte {
	t.Helper()
	k, err := jwk.ParseKey(j)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// HubJWK is the hub key's public JWK, as /.well-known/jwks.json lists it.
func (f *Fixture) HubJWK() []byte { return f.Hub.PublicJWK() }

// TrustList is the trust list the hub serves at iat.
func (f *Fixture) TrustList(t testing.TB, iat time.Time) []byte {
	t.Helper()
	tl, err := f.Keys.TrustList(context.Background(), f.Hub, Hub, map[string]string{Market: MarketName, Health: HealthName}, iat)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// Licence is a food business licence of the market bureau, valid until
// validUntil ("" for none), with fields 1 (permit_no) and 4 (address) of
// Types.
func Licence(serial, validUntil string) compactqr.Licence {
	l := compactqr.Licence{
		ID:       "1.2.156.3005.2." + FoodLicence + "." + Market + "." + serial + ".001.X",
		TypeCode: FoodLicence, TypeName: "食品经营许可证", IssuerUSCC: Market,
		Holder: "福建某某餐饮有限公司", ValidFrom: compactqr.Date{Year: 2025, Month: 1, Day: 1},
		Fields: map[uint64]any{1: "JY13301000000001", 4: "杭州市上城区解放路1号"},
	}
	if validUntil != "" {
		d, err := compactqr.ParseDate(validUntil)
		if err != nil {
			panic(err)
		}
		l.ValidUntil = d
	}
	return l
}

// Types is the licence type catalogue as the hub serves it
// (GET /.well-known/certhub-licence-types) for the food licence.
const Types = `{"profile":"CH1","types":{"` + FoodLicence + `":{"name":"食品经营许可证","holder_kind":"organisation","fields":{` +
	`"1":{"name":"permit_no","type":"string","label":{"en":"Permit number","zh-CN":"许可证编号"}},` +
	`"4":{"name":"address","type":"string","label":{"en":"Premises","zh-CN":"经营场所"}}}}}}`

// StatusURI is the URL of the fixture hub's Token Status List n.
func StatusURI(n int) string { return statuslist.TSLURL(Hub, n) }

// QR seals l with k at iat, pointing at entry idx of status list 1 (no
// status reference when idx < 0).
func (f *Fixture) QR(t testing.TB, k *SealKey, l compactqr.Licence, iat time.Time, idx int) string {
	t.Helper()
	in := compactqr.Input{Issuer: Hub, Licence: l, Now: iat}
	if idx >= 0 {
		in.Status = &compactqr.StatusRef{Idx: uint64(idx), URI: StatusURI(1)}
	}
	text, err := compactqr.Encode(k.Signer, k.Thumbprint, in)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TSL is an IETF Token Status List (draft-ietf-oauth-status-list) of
// size entries, two bits each, encoded here from the specification with
// the standard library: entry i is bits 2(i mod 4)…2(i mod 4)+1 of byte
// i/4 (least significant first), the bytes ZLIB'd and base64url'd into
// status_list.lst; the claims sub uri, iat, exp (none when exp is the
// epoch) and ttl are written with encoding/json. It is signed by key (the
// hub key, or another) with typ statuslist+jwt.
func TSL(t testing.TB, key *signing.HubKey, uri string, size int, set map[int]statuslist.Status, iat, exp time.Time, ttl time.Duration) []byte {
	t.Helper()
	b := make([]byte, size/4)
	for i, v := range set {
		b[i/4] |= byte(v&3) << (2 * (i % 4))
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	claims := map[string]any{"sub": uri, "iat": iat.Unix(), "exp": exp.Unix(), "ttl": int64(ttl / time.Second),
		"status_list": map[string]any{"bits": 2, "lst": base64.RawURLEncoding.EncodeToString(z.Bytes())}}
	if exp.Unix() == 0 {
		delete(claims, "exp")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := key.Sign(payload, "statuslist+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
