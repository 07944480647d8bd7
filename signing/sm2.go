package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwkecdsa "github.com/lestrrat-go/jwx/v3/jwk/ecdsa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The SM2SM3 JWS profile (docs/sm2.md). No JOSE registration exists for SM2,
// so certhub defines one: alg "SM2SM3", JWK {"kty":"EC","crv":"SM2"}, the
// signature the raw 64-byte r‖s (like ES256) of an SM2 signature computed
// over SM3(Z‖M), Z for the default user ID 1234567812345678 (GM/T 0009).
var (
	sm2Curve = jwa.NewEllipticCurveAlgorithm("SM2")
	sm2SM3   = jwa.NewSignatureAlgorithm("SM2SM3")
)

// SM2UserID is the user ID every SM2 signature of certhub is made with: the
// default of GM/T 0009, which OpenSSL, sm-crypto and BouncyCastle need to
// be told explicitly (OpenSSL's own default is the empty ID).
const SM2UserID = "1234567812345678"

// sm2SigSize is the size of a raw r‖s SM2 signature.
const sm2SigSize = 64

// init registers the profile with jwx, process-wide: the curve (so an SM2
// JWK parses, exports and has an RFC 7638 thumbprint), the signature
// algorithm and its signer and verifier (so jws.Sign, jws.Verify and
// jws.VerifyCompactFast handle SM2SM3 like any other algorithm).
func init() {
	jwa.RegisterEllipticCurveAlgorithm(sm2Curve)
	jwkecdsa.RegisterCurve(sm2Curve, sm2.P256())
	if err := jws.RegisterSigner(sm2SM3, sm2JWS{}); err != nil {
		panic(err)
	}
	if err := jws.RegisterVerifier(sm2SM3, sm2JWS{}); err != nil {
		panic(err)
	}
	jws.RegisterAlgorithmForKeyType(jwa.EC(), sm2SM3)
	jws.RegisterAlgorithmForCurve(sm2Curve, sm2SM3)
}

// sm2JWS signs and verifies SM2SM3 JWS signatures for jwx.
type sm2JWS struct{}

func (sm2JWS) Algorithm() jwa.SignatureAlgorithm { return sm2SM3 }

// Sign signs the JWS signing input with any crypto.Signer holding an SM2
// key (the local backend's *sm2.PrivateKey, or an HSM's). The options are
// what makes gmsm hash the message with Z: given nil or a crypto.Hash it
// would sign the input as a finished digest, with no Z.
func (sm2JWS) Sign(key any, payload []byte) ([]byte, error) {
	if jk, ok := key.(jwk.Key); ok {
		var raw any
		if err := jwk.Export(jk, &raw); err != nil {
			return nil, fmt.Errorf("SM2SM3: %w", err)
		}
		key = raw
	}
	if ek, ok := key.(*ecdsa.PrivateKey); ok {
		// An SM2 key as a plain ecdsa key would make ECDSA signatures.
		sk, err := new(sm2.PrivateKey).FromECPrivateKey(ek)
		if err != nil {
			return nil, fmt.Errorf("SM2SM3: %w", err)
		}
		key = sk
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("SM2SM3: key is a %T, not a crypto.Signer", key)
	}
	if !isSM2Public(s.Public()) {
		return nil, errors.New("SM2SM3: key is not an SM2 key")
	}
	der, err := s.Sign(rand.Reader, payload, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, err
	}
	return sm2DERToRaw(der)
}

// Verify checks a raw r‖s signature over the JWS signing input. jwx hands
// a custom verifier the jwk.Key itself when it verifies against a key set,
// so that is exported first.
func (sm2JWS) Verify(key any, payload, signature []byte) error {
	if jk, ok := key.(jwk.Key); ok {
		var raw any
		if err := jwk.Export(jk, &raw); err != nil {
			return fmt.Errorf("SM2SM3: %w", err)
		}
		key = raw
	}
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || !isSM2Public(pub) {
		return fmt.Errorf("SM2SM3: key is a %T, not an SM2 public key", key)
	}
	if len(signature) != sm2SigSize {
		return fmt.Errorf("SM2SM3: signature is %d bytes, want %d (raw r‖s)", len(signature), sm2SigSize)
	}
	der, err := sm2RawToDER(signature)
	if err != nil {
		return err
	}
	if !sm2.VerifyASN1WithSM2(pub, []byte(SM2UserID), payload, der) {
		return errors.New("SM2SM3: signature does not verify")
	}
	return nil
}

func isSM2Public(pub crypto.PublicKey) bool {
	p, ok := pub.(*ecdsa.PublicKey)
	return ok && p.Curve == sm2.P256()
}

// sm2DERToRaw turns DER SEQUENCE{r, s} into 32-byte left-padded r‖s.
func sm2DERToRaw(der []byte) ([]byte, error) {
	r, s, ok := parseDERSignature(der)
	if !ok {
		return nil, errors.New("SM2SM3: signer returned a malformed DER signature")
	}
	if r.Sign() <= 0 || s.Sign() <= 0 || r.BitLen() > 256 || s.BitLen() > 256 {
		return nil, errors.New("SM2SM3: signer returned an out-of-range signature")
	}
	out := make([]byte, sm2SigSize)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// sm2RawToDER turns r‖s into DER SEQUENCE{r, s}, the form gmsm, OpenSSL and
// X.509 verify.
func sm2RawToDER(raw []byte) ([]byte, error) {
	if len(raw) != sm2SigSize {
		return nil, fmt.Errorf("SM2SM3: signature is %d bytes, want %d", len(raw), sm2SigSize)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[:32]))
		b.AddASN1BigInt(new(big.Int).SetBytes(raw[32:]))
	})
	return b.Bytes()
}

// parseDERSignature reads DER SEQUENCE{r INTEGER, s INTEGER} and nothing after.
func parseDERSignature(der []byte) (r, s *big.Int, ok bool) {
	var inner cryptobyte.String
	in := cryptobyte.String(der)
	r, s = new(big.Int), new(big.Int)
	ok = in.ReadASN1(&inner, cbasn1.SEQUENCE) && in.Empty() &&
		inner.ReadASN1Integer(r) && inner.ReadASN1Integer(s) && inner.Empty()
	return r, s, ok
}

// diagnoseSM2 says why an SM2SM3 signature that failed to verify failed,
// when the cause is one of the two known producer defects: a DER signature
// where JWS needs raw r‖s, and a signature over SM3(M) without Z (what
// gmsm makes when a generic library passes nil or a crypto.Hash as
// options). It returns "" when the signature is simply wrong.
func diagnoseSM2(pub *ecdsa.PublicKey, signingInput, sig []byte) (cause, detail string) {
	if len(sig) != sm2SigSize {
		if _, _, ok := parseDERSignature(sig); ok {
			return ReasonDERSignature, "the signature is ASN.1 DER; the SM2SM3 profile carries the raw 64-byte r‖s"
		}
		return "", fmt.Sprintf("the signature is %d bytes; the SM2SM3 profile carries the raw 64-byte r‖s", len(sig))
	}
	der, err := sm2RawToDER(sig)
	if err != nil {
		return "", err.Error()
	}
	digest := sm3.Sum(signingInput)
	if sm2.VerifyASN1(pub, digest[:], der) {
		return ReasonSM2WithoutZ, "the SM2 signature is over SM3(message) without the Z value; SM2SM3 signs SM3(Z‖message), Z for user ID " + SM2UserID
	}
	return "", "signature does not verify"
}

// checkSM2Signer signs a probe and verifies it the standard way, so that a
// backend whose signer ignores the SM2 options (and so signs without Z)
// is refused before it seals anything.
func checkSM2Signer(s crypto.Signer) error {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || !isSM2Public(pub) {
		return errors.New("not an SM2 key")
	}
	probe := []byte("certhub SM2 signer self-check")
	raw, err := sm2JWS{}.Sign(s, probe)
	if err != nil {
		return err
	}
	if err := (sm2JWS{}).Verify(pub, probe, raw); err != nil {
		return errors.New("the signer does not make standard SM2 signatures (SM3 with Z, user ID " + SM2UserID + ")")
	}
	return nil
}

// sm2Thumbprint is the RFC 7638 SHA-256 thumbprint of an SM2 JWK: the hash
// of {"crv":"SM2","kty":"EC","x":…,"y":…}, members in that order.
func sm2Thumbprint(k jwk.Key) ([]byte, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	var m struct{ Crv, Kty, X, Y string }
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.Crv != sm2Curve.String() || m.Kty != "EC" || m.X == "" || m.Y == "" {
		return nil, fmt.Errorf("not an SM2 JWK: %s", b)
	}
	canon, err := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{m.Crv, m.Kty, m.X, m.Y})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	return sum[:], nil
}
