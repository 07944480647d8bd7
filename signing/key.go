package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/internal/errs"
)

// Algorithm is a JWS seal algorithm certhub supports.
type Algorithm string

// Supported seal algorithms.
const (
	ES256 Algorithm = "ES256" // ECDSA P-256 SHA-256
	EdDSA Algorithm = "EdDSA" // Ed25519
	// SM2 keys seal JWS documents with certhub's SM2SM3 profile (SM2
	// over SM3 with Z, raw r‖s; see sm2.go). The key's algorithm is
	// "SM2"; the JWS and JWK alg is "SM2SM3".
	SM2 Algorithm = "SM2"
)

// ParseAlgorithm validates an algorithm name; field names the input field.
func ParseAlgorithm(field, s string) (Algorithm, error) {
	switch Algorithm(s) {
	case ES256, EdDSA, SM2:
		return Algorithm(s), nil
	case "":
		return ES256, nil
	}
	return "", errs.Field(field, "algorithm %q is not supported; use ES256, EdDSA or SM2", s)
}

func (a Algorithm) jwa() jwa.SignatureAlgorithm {
	switch a {
	case EdDSA:
		return jwa.EdDSA()
	case SM2:
		return sm2SM3
	}
	return jwa.ES256()
}

// JWSAlgorithm is the alg a key's JWS documents and JWK carry: the
// algorithm's own name, except "SM2SM3" for SM2 keys.
func (a Algorithm) JWSAlgorithm() string { return a.jwa().String() }

// KeyStatus says whether a key signs new documents.
type KeyStatus string

// Key statuses. A retired key signs nothing new but still verifies the
// documents it signed, so it stays in the JWKS.
const (
	KeyActive  KeyStatus = "active"
	KeyRetired KeyStatus = "retired"
)

// Key is a seal key's record. Sealed is the backend's opaque private-key
// material (for the local backend, the encrypted PKCS#8 bytes); it is
// meaningless outside this package.
//
// An authority has at most one active key per algorithm; one of its active
// keys, the document key (Documents), seals its JWS documents. Documents is
// decided by the store (InsertKey, RotateKey, SetDocumentKey), never by the
// caller.
type Key struct {
	KID       string     `json:"kid"`
	Authority string     `json:"authority"`
	Algorithm Algorithm  `json:"alg"`
	PublicJWK []byte     `json:"-"`
	Backend   string     `json:"backend"`
	Sealed    []byte     `json:"-"`
	Status    KeyStatus  `json:"status"`
	Documents bool       `json:"documents"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// Certificate is the key's X.509 seal certificate (DER), nil until it
	// has one; CertificateChain is what follows it in the JWKS x5c (DER
	// certificates, concatenated: the issuing root for a hub certificate,
	// the chain the operator gave for an imported one). CertificateSource
	// says who issued it.
	Certificate       []byte     `json:"-"`
	CertificateChain  []byte     `json:"-"`
	CertificateSource CertSource `json:"certificate,omitempty"`
	// CompromisedFrom, when set, is the instant from which the key is taken
	// to be exposed: documents it sealed at or after it are not trusted
	// (ReasonKeyCompromised), those sealed before stay valid.
	CompromisedFrom  *time.Time `json:"compromised_from,omitempty"`
	CompromiseReason string     `json:"compromise_reason,omitempty"`
}

// KeyStore keeps key records.
type KeyStore interface {
	// InsertKey stores a new key; errs.Conflict if k is active and the
	// authority already has an active key of k's algorithm. An active key
	// becomes the document key when the authority has none; the store sets
	// k.Documents.
	InsertKey(ctx context.Context, k *Key) error
	// RotateKey retires the authority's active key of next's algorithm or,
	// when it has none, its document key, and stores next as active in its
	// place (next seals documents if the retired key did, or if the
	// authority had no active key), in one transaction; the store sets
	// next.Documents. errs.Conflict if a concurrent change got there first.
	RotateKey(ctx context.Context, authority string, next *Key, at time.Time) error
	// ActiveKey returns the authority's document key; errs.NotFound if none.
	ActiveKey(ctx context.Context, authority string) (*Key, error)
	// SetDocumentKey makes the authority's active key of alg its document
	// key; errs.NotFound if it has no active key of alg.
	SetDocumentKey(ctx context.Context, authority string, alg Algorithm) error
	// GetKey returns a key by kid; errs.NotFound if unknown.
	GetKey(ctx context.Context, kid string) (*Key, error)
	// ListKeys lists keys, of one authority or (authority "") all, oldest first.
	ListKeys(ctx context.Context, authority string) ([]*Key, error)
	// MarkCompromised records that the key is exposed from the instant
	// from on, with the operator's reason. A key already marked keeps the
	// earlier of the two instants (an exposure cannot be undone by a later
	// mark) and takes the new reason. errs.NotFound if kid is unknown.
	MarkCompromised(ctx context.Context, kid string, from time.Time, reason string) error
}

// Backend creates private keys and hands out signers for them. The local
// backend keeps them encrypted in the KeyStore; an HSM/KMS backend would keep
// only a handle in Sealed.
type Backend interface {
	// Generate makes a new key pair and returns the sealed private part (the
	// handle the backend needs later) and the public key.
	Generate(ctx context.Context, alg Algorithm, authority string) (sealed []byte, pub crypto.PublicKey, err error)
	// Signer opens a sealed key.
	Signer(ctx context.Context, k *Key) (crypto.Signer, error)
}

// localBackend keeps private keys as PKCS#8, encrypted under a master-derived
// key with the authority bound as associated data (a sealed key cannot be
// moved onto another authority's record).
type localBackend struct{ box aead }

// NewLocalBackend returns the backend that keeps keys encrypted at rest in
// the database.
func NewLocalBackend(m *MasterKey) Backend {
	return &localBackend{box: newAEAD(m.derive("seal key wrap v1"))}
}

func (b *localBackend) Generate(_ context.Context, alg Algorithm, authority string) ([]byte, crypto.PublicKey, error) {
	var priv crypto.Signer
	switch alg {
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	case SM2:
		k, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	der, err := marshalPKCS8(priv)
	if err != nil {
		return nil, nil, err
	}
	return b.box.seal(der, []byte(authority)), priv.Public(), nil
}

func (b *localBackend) Signer(_ context.Context, k *Key) (crypto.Signer, error) {
	der, err := b.box.open(k.Sealed, []byte(k.Authority))
	if err != nil {
		return nil, fmt.Errorf("seal key %s cannot be decrypted (wrong master key?): %w", k.KID, err)
	}
	priv, err := parsePKCS8(k.Algorithm, der)
	if err != nil {
		return nil, err
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("seal key %s is not a signer", k.KID)
	}
	return s, nil
}

// marshalPKCS8 encodes a private key as PKCS#8. SM2 keys go through smx509
// (id-ecPublicKey on curve 1.2.156.10197.1.301, what OpenSSL writes), which
// crypto/x509 cannot encode; the others stay exactly as they always were.
func marshalPKCS8(priv crypto.Signer) ([]byte, error) {
	if isSM2Public(priv.Public()) {
		return smx509.MarshalPKCS8PrivateKey(priv)
	}
	return x509.MarshalPKCS8PrivateKey(priv)
}

func parsePKCS8(alg Algorithm, der []byte) (any, error) {
	if alg == SM2 {
		return smx509.ParsePKCS8PrivateKey(der)
	}
	return x509.ParsePKCS8PrivateKey(der)
}

// publicJWK builds the public JWK of a key, with kid, alg and use set. The kid
// is the RFC 7638 thumbprint, so it is stable and needs no registry.
func publicJWK(pub crypto.PublicKey, alg Algorithm) (jwk.Key, string, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, "", err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "", err
	}
	if alg == SM2 {
		// jwx hashes an EC key's Go curve name ("sm2p256v1"), which for
		// SM2 is not the JWK's crv member: hash the members themselves.
		if tp, err = sm2Thumbprint(k); err != nil {
			return nil, "", err
		}
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg.jwa(), jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, "", err
		}
	}
	return k, kid, nil
}
