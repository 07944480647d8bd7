package signing

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
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
