package signing

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// TestHubKeyKIDIsItsThumbprint: the hub key's kid is the RFC 7638
// thumbprint of its public JWK, computed here from the members the RFC
// names, with no prefix; a detached signature names the key by it, and
// verifies with the JWK published under it.
func TestHubKeyKIDIsItsThumbprint(t *testing.T) {
	t.Parallel()
	m, _ := GenerateMasterKey()
	h, err := NewHubKey(m)
	if err != nil {
		t.Fatal(err)
	}
	var pub struct{ Kty, Crv, X, Kid, Alg, Use string }
	if err := json.Unmarshal(h.PublicJWK(), &pub); err != nil {
		t.Fatal(err)
	}
	// RFC 7638 §3.2 for an OKP key: the required members, sorted, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"` + pub.Crv + `","kty":"` + pub.Kty + `","x":"` + pub.X + `"}`))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if pub.Kty != "OKP" || pub.Crv != "Ed25519" || h.KID() != want || pub.Kid != want || pub.Alg != "EdDSA" || pub.Use != "sig" {
		t.Fatalf("hub key %s, kid %q; want OKP Ed25519 EdDSA sig with kid %q", h.PublicJWK(), h.KID(), want)
	}
	if strings.HasPrefix(h.KID(), "hub-") {
		t.Fatalf("kid %q has a prefix", h.KID())
	}

	body := []byte(`{"type":"certificate.issued"}`)
	sig, err := h.SignDetached(body)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Parse([]byte(sig), jws.WithCompact())
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	alg, _ := msg.Signatures()[0].ProtectedHeaders().Algorithm()
	if kid != want || alg != jwa.EdDSA() {
		t.Fatalf("signature header kid %q alg %v, want %q EdDSA", kid, alg, want)
	}
	key, err := jwk.ParseKey(h.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(key)
	found, ok := set.LookupKeyID(kid)
	if !ok {
		t.Fatalf("kid %q not in the JWKS", kid)
	}
	if _, err := jws.Verify([]byte(sig), jws.WithKey(jwa.EdDSA(), found), jws.WithDetachedPayload(body)); err != nil {
		t.Fatalf("signature does not verify with the key of its kid: %v", err)
	}
}

// memHubKeys is a HubKeyStore in memory, as a replica's view of the table.
type memHubKeys struct{ recs []HubKeyRecord }

func (m *memHubKeys) HubKeys(context.Context) ([]HubKeyRecord, error) {
	return append([]HubKeyRecord(nil), m.recs...), nil
}

func (m *memHubKeys) AddHubKey(_ context.Context, r HubKeyRecord) error {
	for _, x := range m.recs {
		if x.Generation == r.Generation {
			return errs.E(errs.Conflict, "exists")
		}
	}
	m.recs = append(m.recs, r)
	return nil
}

func (m *memHubKeys) ActivateHubKey(_ context.Context, gen int, at time.Time) error {
	i := slices.IndexFunc(m.recs, func(r HubKeyRecord) bool { return r.Generation == gen && r.State == HubKeyInactive })
	if i < 0 {
		return errs.E(errs.Conflict, "not inactive")
	}
	for j := range m.recs {
		if m.recs[j].State == HubKeyActive {
			m.recs[j].State, m.recs[j].RetiredAt = HubKeyRetired, &at
		}
	}
	m.recs[i].State, m.recs[i].ActivatedAt = HubKeyActive, &at
	return nil
}

func (m *memHubKeys) VouchHubKey(_ context.Context, gen int, at time.Time) error {
	for i := range m.recs {
		if m.recs[i].Generation == gen && m.recs[i].VouchedAt == nil {
			m.recs[i].VouchedAt = &at
		}
	}
	return nil
}

// TestHubKeyRotation: a new generation is published inactive and signs
// nothing; once active it signs, and the retired one still verifies what it
// signed until its retention ends. Every replica derives the same keys
// from the generations' states.
func TestHubKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := GenerateMasterKey()
	st := &memHubKeys{}
	h, err := NewHubKey(m)
	if err != nil {
		t.Fatal(err)
	}
	replica, _ := NewHubKey(m)
	gen1 := h.KID()
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	token := func() string {
		tok := jwt.New()
		_ = tok.Set(jwt.IssuerKey, "https://hub.example")
		_ = tok.Set(jwt.ExpirationKey, t0.Add(time.Hour))
		s, err := h.SignJWT(tok, "at+jwt")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	clock := func(at time.Time) jwt.ParseOption {
		return jwt.WithClock(jwt.ClockFunc(func() time.Time { return at }))
	}
	before := token()

	if _, err := h.Activate(ctx, st, t0); !errs.Is(err, errs.NotFound) {
		t.Fatalf("activate with nothing published: %v, want not found", err)
	}
	r, err := h.Rotate(ctx, st, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Generation != 2 || r.State != HubKeyInactive || r.KID == gen1 || h.KID() != gen1 {
		t.Fatalf("rotated to %+v, active %s; want generation 2 inactive beside %s, still active", r, h.KID(), gen1)
	}
	pub := h.Published()
	if len(pub) != 2 || pub[0].State != HubKeyActive || pub[1].State != HubKeyInactive || pub[1].KID != r.KID {
		t.Fatalf("published %+v", pub)
	}
	if _, err := h.Rotate(ctx, st, t0); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second rotation while one is inactive: %v, want conflict", err)
	}
	if p, ok := h.Pending(); !ok || p.Generation != 2 {
		t.Fatalf("pending %+v %v", p, ok)
	}

	t1 := t0.Add(10 * time.Minute)
	if _, err := h.Activate(ctx, st, t1); err != nil {
		t.Fatal(err)
	}
	if h.KID() != r.KID {
		t.Fatalf("active %s after activation, want %s", h.KID(), r.KID)
	}
	after := token()
	if kidOf(after) != r.KID {
		t.Fatalf("a new token is signed by %s, want %s", kidOf(after), r.KID)
	}
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := h.ParseJWT(tok, clock(t1)); err != nil {
			t.Fatalf("token signed %s the rotation: %v", name, err)
		}
		if !h.Signs(tok) {
			t.Fatalf("Signs(%s) is false", name)
		}
	}
	// Another replica, loading the same states, holds the same keys.
	if err := replica.Load(ctx, st, t1); err != nil {
		t.Fatal(err)
	}
	if rp, hp := replica.Published(), h.Published(); replica.KID() != r.KID || len(rp) != 2 || rp[0].KID != hp[0].KID || rp[1].KID != hp[1].KID {
		t.Fatalf("replica holds %s %+v", replica.KID(), replica.Published())
	}
	if _, err := replica.ParseJWT(before, clock(t1)); err != nil {
		t.Fatalf("replica: %v", err)
	}
	// Past its retention the retired key is gone: what it signed no
	// longer verifies.
	if err := h.Load(ctx, st, t1.Add(HubKeyRetention)); err != nil {
		t.Fatal(err)
	}
	if len(h.Published()) != 1 || h.Signs(before) {
		t.Fatalf("after retention: published %+v, Signs(old) %v", h.Published(), h.Signs(before))
	}
	if _, err := h.ParseJWT(before, clock(t1)); err == nil {
		t.Fatal("a token of a key past its retention still verifies")
	}
}
