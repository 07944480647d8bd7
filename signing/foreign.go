package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Reasons a foreign key's validity window gives, judged from the trust list
// that states it against the document's seal time (iat).
const (
	ReasonKeyNotYetValid = "key_not_yet_valid" // sealed before the key existed
	ReasonKeyRetired     = "key_retired"       // sealed after the key was retired
)

// ForeignKey is a seal key of another hub of the federation, as the trust
// list of that hub (verified with the hub key its directory entry lists)
// states it.
type ForeignKey struct {
	// Hub is the id of the hub whose trust list states the key.
	Hub string
	TrustedKey
}

// ForeignKeys finds a seal key another hub states. It returns (nil, nil)
// when no hub does; other errors are failures of the lookup.
type ForeignKeys func(ctx context.Context, kid string) (*ForeignKey, error)

// SetForeign makes the manager consult f for a kid that is not in its own
// store (the federation's trust lists). Foreign keys are not cached here:
// a later trust list may mark one compromised.
func (m *Manager) SetForeign(f ForeignKeys) { m.foreign = f }

// PublicKey parses the key's JWK: a public key of the algorithm alg states
// (ES256 a P-256 key, EdDSA an Ed25519 key, SM2SM3 an SM2 key), whose RFC
// 7638 thumbprint is kid, as every certhub seal key's is. A private JWK is
// refused.
func (k *TrustedKey) PublicKey() (crypto.PublicKey, Algorithm, error) {
	var alg Algorithm
	switch k.Alg {
	case ES256.JWSAlgorithm():
		alg = ES256
	case EdDSA.JWSAlgorithm():
		alg = EdDSA
	case SM2.JWSAlgorithm():
		alg = SM2
	default:
		return nil, "", fmt.Errorf("key %s: alg %q is not ES256, EdDSA or SM2SM3", k.KID, k.Alg)
	}
	// The key is trusted because the hub's signed trust list states it,
	// not by its certificate chain; x5c is left out of parsing, which
	// crypto/x509 (used by jwx) cannot read for SM2 certificates.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(k.JWK, &members); err != nil {
		return nil, "", fmt.Errorf("key %s: not a JWK: %w", k.KID, err)
	}
	delete(members, "x5c")
	bare, err := json.Marshal(members)
	if err != nil {
		return nil, "", fmt.Errorf("key %s: %w", k.KID, err)
	}
	jk, err := jwk.ParseKey(bare)
	if err != nil {
		return nil, "", fmt.Errorf("key %s: not a JWK: %w", k.KID, err)
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return nil, "", fmt.Errorf("key %s: %w", k.KID, err)
	}
	ok := false
	switch p := raw.(type) {
	case *ecdsa.PublicKey:
		ok = alg == ES256 && p.Curve.Params().Name == "P-256" || alg == SM2 && p.Curve == sm2.P256()
	case ed25519.PublicKey:
		ok = alg == EdDSA
	}
	if !ok {
		return nil, "", fmt.Errorf("key %s: a %T is not a public key for %s", k.KID, raw, k.Alg)
	}
	tp, err := jk.Thumbprint(crypto.SHA256)
	if alg == SM2 {
		tp, err = sm2Thumbprint(jk)
	}
	if err != nil {
		return nil, "", fmt.Errorf("key %s: %w", k.KID, err)
	}
	if want := base64.RawURLEncoding.EncodeToString(tp); k.KID != want {
		return nil, "", fmt.Errorf("key %s: kid is not the JWK's thumbprint (%s)", k.KID, want)
	}
	return raw, alg, nil
}

// Problems judges a document the key sealed at sealedAt against the key's
// window as the trust list states it: sealed before the key existed, after
// it was retired, or at or after its compromise instant.
func (k *TrustedKey) Problems(sealedAt time.Time) []string {
	var r []string
	at := sealedAt.Unix()
	if k.ValidFrom != 0 && at < k.ValidFrom {
		r = append(r, ReasonKeyNotYetValid)
	}
	if k.ValidUntil != nil && at > *k.ValidUntil {
		r = append(r, ReasonKeyRetired)
	}
	if k.CompromisedFrom != nil && at >= *k.CompromisedFrom {
		r = append(r, ReasonKeyCompromised)
	}
	return r
}

// foreignKey looks kid up in the federation's trust lists.
func (m *Manager) foreignKey(ctx context.Context, kid string) (*verifyKey, error) {
	if m.foreign == nil {
		return nil, nil
	}
	fk, err := m.foreign(ctx, kid)
	if err != nil || fk == nil {
		return nil, err
	}
	pub, alg, err := fk.PublicKey()
	if err != nil {
		// The trust list was checked when it was fetched; a key that does
		// not parse now is not one to verify with.
		return nil, &VerifyError{Reason: ReasonUnknownKey, KID: kid, Detail: fmt.Sprintf("hub %s states the key, unusably: %v", fk.Hub, err)}
	}
	return &verifyKey{key: pub, alg: alg, authority: fk.Authority, foreign: fk}, nil
}
