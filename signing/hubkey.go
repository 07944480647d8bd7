package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// HubKey is the hub's own signing key: it signs the access tokens the hub
// issues to consumers and the bodies of the webhooks it sends. Like the
// ledger key it is derived from the master key, so every replica holds the
// same key; its public half is in the JWKS next to the seal keys.
type HubKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
	jwk  json.RawMessage
}

// NewHubKey derives the hub key.
func NewHubKey(m *MasterKey) (*HubKey, error) {
	priv := ed25519.NewKeyFromSeed(m.derive("hub token key v1"))
	pub := priv.Public().(ed25519.PublicKey)
	k, kid, err := publicJWK(pub, EdDSA)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	return &HubKey{priv: priv, pub: pub, kid: kid, jwk: b}, nil
}

// KID is the key's id: its RFC 7638 JWK thumbprint (SHA-256, base64url
// without padding), like every kid in the JWKS, with no prefix. It is in
// the protected header of everything the key signs, so a receiver picks
// the key out of /.well-known/jwks.json by it. Derived from the master key,
// it stays the same until the master key changes.
func (h *HubKey) KID() string { return h.kid }

// PublicJWK is the public key as a JWK.
func (h *HubKey) PublicJWK() json.RawMessage { return h.jwk }

func (h *HubKey) headers(typ string) (jws.Headers, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, h.kid); err != nil {
		return nil, err
	}
	if typ != "" {
		if err := hdr.Set(jws.TypeKey, typ); err != nil {
			return nil, err
		}
	}
	return hdr, nil
}

// Sign signs a JSON payload as a compact JWS (alg EdDSA, kid the hub key's,
// typ when not empty): the trust list and the status lists. Ed25519 is
// deterministic, so the same payload always gives the same bytes.
func (h *HubKey) Sign(payload []byte, typ string) ([]byte, error) {
	hdr, err := h.headers(typ)
	if err != nil {
		return nil, err
	}
	return jws.Sign(payload, jws.WithKey(jwa.EdDSA(), h.priv, jws.WithProtectedHeaders(hdr)))
}

// SignJWT signs a token's claims, with typ set (for access tokens
// "at+jwt", RFC 9068).
func (h *HubKey) SignJWT(t jwt.Token, typ string) (string, error) {
	hdr, err := h.headers(typ)
	if err != nil {
		return "", err
	}
	b, err := jwt.Sign(t, jwt.WithKey(jwa.EdDSA(), h.priv, jws.WithProtectedHeaders(hdr)))
	return string(b), err
}

// ParseJWT verifies a token the hub signed and validates its claims with
// the options given (issuer, audience, clock).
func (h *HubKey) ParseJWT(token string, opts ...jwt.ParseOption) (jwt.Token, error) {
	return jwt.ParseString(token, append([]jwt.ParseOption{jwt.WithKey(jwa.EdDSA(), h.pub), jwt.WithValidate(true)}, opts...)...)
}

// Signs reports whether a compact JWS names this key in its header.
func (h *HubKey) Signs(token string) bool {
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return false
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid == h.kid
}

// SignDetached signs a body as a JWS with a detached payload (RFC 7515
// appendix F): "header..signature", the header {"alg":"EdDSA","kid":KID}.
// The receiver verifies it against the body it received and the key of
// that kid in the hub's JWKS.
func (h *HubKey) SignDetached(body []byte) (string, error) {
	hdr, err := h.headers("")
	if err != nil {
		return "", err
	}
	b, err := jws.Sign(nil, jws.WithKey(jwa.EdDSA(), h.priv, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(body))
	return string(b), err
}

// ParseHubPublicKey reads a hub's public key from a JWK (as in a hub's
// /.well-known/jwks.json, a trust list or a federation directory): an
// Ed25519 public key. A private JWK is refused: no one but the hub itself
// should hold its private key.
func ParseHubPublicKey(b []byte) (ed25519.PublicKey, error) {
	k, err := jwk.ParseKey(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("not a JWK: %w", err)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, err
	}
	pub, ok := raw.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 public key (kty OKP, crv Ed25519)", raw)
	}
	return pub, nil
}

// VerifyHubSigned checks a compact JWS that a hub key signed (alg EdDSA,
// one signature, typ in the protected header equal to typ, so one kind of
// statement never passes for another) and returns its payload and kid.
func VerifyHubSigned(token []byte, pub ed25519.PublicKey, typ string) (payload []byte, kid string, err error) {
	token = bytes.TrimSpace(token)
	if bytes.Count(token, []byte(".")) != 2 {
		return nil, "", errors.New("not a compact JWS (three base64url parts)")
	}
	msg, err := jws.Parse(token)
	if err != nil {
		return nil, "", err
	}
	if len(msg.Signatures()) != 1 {
		return nil, "", errors.New("not one signature")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if alg, _ := h.Algorithm(); alg != jwa.EdDSA() {
		return nil, "", fmt.Errorf("alg %q, want EdDSA", alg)
	}
	if got, _ := h.Type(); got != typ {
		return nil, "", fmt.Errorf("typ %q, want %q", got, typ)
	}
	kid, _ = h.KeyID()
	payload, err = jws.Verify(token, jws.WithKey(jwa.EdDSA(), pub))
	if err != nil {
		return nil, "", fmt.Errorf("signature: %w", err)
	}
	return payload, kid, nil
}
