package compactqr

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Prefix starts every compact QR text. "CH1:" (certhub, profile 1) is in the
// QR alphanumeric set and differs from the EU DCC's "HC1:", so a COVID
// certificate app refuses a licence rather than misreading it.
const Prefix = "CH1:"

// CWT claim keys (RFC 8392) and certhub's private-use claim.
const (
	claimIss     = 1
	claimExp     = 4
	claimIat     = 6
	claimStatus  = 65535  // draft-ietf-oauth-status-list: {"status_list": {"idx", "uri"}}
	LicenceClaim = -65537 // private use (below −65536): the licence map
)

// KidSize is how many leading bytes of the RFC 7638 SHA-256 JWK thumbprint
// form the COSE kid: 8 bytes make a collision among a hub's few hundred seal
// keys negligible and cost 9 bytes, not 33.
const KidSize = 8

// MaxDecompressed caps the decompressed COSE_Sign1; a licence is under 2 KiB,
// so anything larger is a zlib bomb or not ours.
const MaxDecompressed = 64 << 10

// chinaTime is the zone civil dates are read in: a licence valid until
// 2030-12-31 is valid through that day in China Standard Time.
var chinaTime = time.FixedZone("CST", 8*3600)

// Date is a civil date (no time, no zone), encoded as "YYYY-MM-DD".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// end is the first instant after d in China Standard Time.
func (d Date) end() time.Time {
	return time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, chinaTime)
}

// StatusRef points at the licence's entry in an IETF Token Status List.
type StatusRef struct {
	Idx uint64 `cbor:"idx"`
	URI string `cbor:"uri"`
}

// Licence is what the compact QR says about a licence. The CBOR keys are
// part of the profile (docs/compact-qr.md) and never change meaning.
type Licence struct {
	ID         string            `cbor:"1,keyasint"`           // certificate identifier
	TypeCode   string            `cbor:"2,keyasint"`           // licence type code
	TypeName   string            `cbor:"3,keyasint"`           // licence type name
	IssuerUSCC string            `cbor:"4,keyasint"`           // issuing authority's unified social credit code
	IssuerName string            `cbor:"5,keyasint"`           // issuing authority's name
	Holder     string            `cbor:"6,keyasint"`           // holder name, masked as on the share page
	ValidFrom  string            `cbor:"7,keyasint"`           // YYYY-MM-DD
	ValidUntil string            `cbor:"8,keyasint,omitempty"` // YYYY-MM-DD; absent for a licence that does not expire
	Fields     map[string]string `cbor:"9,keyasint,omitempty"` // shareable fields the holder chose
}

// Validate checks what Encode needs.
func (l *Licence) Validate() error {
	switch {
	case l.ID == "":
		return errors.New("licence: identifier is required")
	case l.IssuerUSCC == "":
		return errors.New("licence: issuer USCC is required")
	}
	if _, err := ParseDate(l.ValidFrom); err != nil {
		return fmt.Errorf("licence: validFrom: %w", err)
	}
	if l.ValidUntil != "" {
		if _, err := ParseDate(l.ValidUntil); err != nil {
			return fmt.Errorf("licence: validUntil: %w", err)
		}
	}
	return nil
}

type statusClaimValue struct {
	StatusList StatusRef `cbor:"status_list"`
}

// claims is the CWT. Exp is a pointer so a licence without expiry has no exp.
type claims struct {
	Iss     string            `cbor:"1,keyasint,omitempty"`
	Exp     *int64            `cbor:"4,keyasint,omitempty"`
	Iat     int64             `cbor:"6,keyasint"`
	Status  *statusClaimValue `cbor:"65535,keyasint,omitempty"`
	Licence *Licence          `cbor:"-65537,keyasint"`
}

var encMode = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Input is one licence to encode.
type Input struct {
	// Issuer is the CWT iss: the hub's base URL, whose signed trust list
	// names the seal keys. The authority is in the licence (IssuerUSCC).
	Issuer  string
	Licence Licence
	Status  *StatusRef // optional until status lists exist
	Now     time.Time  // iat
}

// Encode signs in as a compact QR text with signer, whose JWK thumbprint
// (RFC 7638, SHA-256) is thumbprint. ES256 (P-256) and Ed25519 keys are
// supported.
func Encode(signer crypto.Signer, thumbprint []byte, in Input) (string, error) {
	if len(thumbprint) < KidSize {
		return "", errors.New("compactqr: thumbprint shorter than 8 bytes")
	}
	if err := in.Licence.Validate(); err != nil {
		return "", err
	}
	c := claims{Iss: in.Issuer, Iat: in.Now.Unix(), Licence: &in.Licence}
	if in.Licence.ValidUntil != "" {
		d, _ := ParseDate(in.Licence.ValidUntil)
		exp := d.end().Unix()
		c.Exp = &exp
	}
	if in.Status != nil {
		c.Status = &statusClaimValue{*in.Status}
	}
	payload, err := encMode.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("compactqr: encode claims: %w", err)
	}
	return sign(signer, thumbprint[:KidSize], payload)
}

// algFor names the COSE algorithm for a public key, or 0.
func algFor(pub crypto.PublicKey) cose.Algorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return cose.AlgorithmES256
		}
	case ed25519.PublicKey:
		return cose.AlgorithmEdDSA
	}
	return 0
}

// sign wraps payload: COSE_Sign1, ZLIB, Base45, prefix.
func sign(signer crypto.Signer, kid, payload []byte) (string, error) {
	alg := algFor(signer.Public())
	if alg == 0 {
		return "", fmt.Errorf("compactqr: unsupported key %T (want P-256 or Ed25519)", signer.Public())
	}
	cs, err := cose.NewSigner(alg, signer)
	if err != nil {
		return "", fmt.Errorf("compactqr: %w", err)
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: alg,
			cose.HeaderLabelKeyID:     kid,
		}},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, cs); err != nil {
		return "", fmt.Errorf("compactqr: sign: %w", err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("compactqr: encode COSE_Sign1: %w", err)
	}
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = w.Write(raw)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("compactqr: compress: %w", err)
	}
	return Prefix + base45Encode(z.Bytes()), nil
}
