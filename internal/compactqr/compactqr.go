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

// Date is a civil date (no time, no zone). In CBOR it is an RFC 8943 day
// number: tag 100 around the count of days since 1970-01-01 (5 bytes for
// any date from 1970 to 2149, where "YYYY-MM-DD" takes 11).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateTag is the CBOR tag of an RFC 8943 day number.
const DateTag = 100

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// MarshalText writes "YYYY-MM-DD" (JSON views of a Result).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// DayNumber is d's RFC 8943 day number: days since 1970-01-01.
func (d Date) DayNumber() int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DateOfDay is the date of an RFC 8943 day number.
func DateOfDay(n int64) Date {
	t := time.Unix(n*86400, 0).UTC()
	return Date{t.Year(), t.Month(), t.Day()}
}

// Day numbers a licence may carry: 0001-01-01 to 9999-12-31.
const (
	minDay = -719162
	maxDay = 2932896
)

// MarshalCBOR writes d as tag 100 around its day number.
func (d Date) MarshalCBOR() ([]byte, error) {
	return encMode.Marshal(cbor.Tag{Number: DateTag, Content: d.DayNumber()})
}

// UnmarshalCBOR reads tag 100 around a day number of years 1 to 9999.
func (d *Date) UnmarshalCBOR(b []byte) error {
	var t cbor.RawTag
	if err := decMode.Unmarshal(b, &t); err != nil {
		return err
	}
	if t.Number != DateTag {
		return fmt.Errorf("date: tag %d, want %d (RFC 8943 day number)", t.Number, DateTag)
	}
	var n int64
	if err := decMode.Unmarshal(t.Content, &n); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	if n < minDay || n > maxDay {
		return fmt.Errorf("date: day %d is outside years 1 to 9999", n)
	}
	*d = DateOfDay(n)
	return nil
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
//
// Fields maps a field's number in its type (certificates.Type.FieldNumber:
// its 1-based position in the type's field list, which never changes) to
// its value: a string, a Date, an int64, a float64 or a bool. A verifier
// finds the field's name and label in the licence type catalogue
// (GET /.well-known/certhub-licence-types).
type Licence struct {
	ID         string `cbor:"1,keyasint"` // certificate identifier
	TypeCode   string `cbor:"2,keyasint"` // licence type code
	TypeName   string `cbor:"3,keyasint"` // licence type name
	IssuerUSCC string `cbor:"4,keyasint"` // issuing authority's unified social credit code
	// Key 5 (the authority's name) is retired, never to be reused: the
	// signed trust list names the authority of every seal key, and a
	// verifier needs that list to verify at all; it cost 40 characters.
	Holder     string         `cbor:"6,keyasint"`           // holder name, masked as on the share page
	ValidFrom  Date           `cbor:"7,keyasint"`           // RFC 8943 day number
	ValidUntil Date           `cbor:"8,keyasint,omitzero"`  // RFC 8943 day number; absent for a licence that does not expire
	Fields     map[uint64]any `cbor:"9,keyasint,omitempty"` // field number → value, the shareable fields the holder chose
}

// Validate checks what Encode needs.
func (l *Licence) Validate() error {
	switch {
	case l.ID == "":
		return errors.New("licence: identifier is required")
	case l.IssuerUSCC == "":
		return errors.New("licence: issuer USCC is required")
	case l.ValidFrom.IsZero():
		return errors.New("licence: validFrom is required")
	}
	for _, d := range []Date{l.ValidFrom, l.ValidUntil} {
		if n := d.DayNumber(); !d.IsZero() && (n < minDay || n > maxDay || DateOfDay(n) != d) {
			return fmt.Errorf("licence: %s is not a date of years 1 to 9999", d)
		}
	}
	for k, v := range l.Fields {
		if k == 0 {
			return errors.New("licence: field numbers start at 1")
		}
		switch v.(type) {
		case string, Date, int64, float64, bool:
		default:
			return fmt.Errorf("licence: field %d is a %T; want a string, Date, int64, float64 or bool", k, v)
		}
	}
	return nil
}

// normalise turns decoded field values into the types Licence documents:
// tag 100 → Date, integers → int64. Anything else is not this profile's.
func (l *Licence) normalise() error {
	for k, v := range l.Fields {
		switch x := v.(type) {
		case string, float64, bool, int64:
		case uint64:
			if x > 1<<63-1 {
				return fmt.Errorf("field %d: integer out of range", k)
			}
			l.Fields[k] = int64(x)
		case cbor.Tag:
			n, ok := x.Content.(uint64)
			m, okNeg := x.Content.(int64)
			switch {
			case x.Number != DateTag:
				return fmt.Errorf("field %d: tag %d", k, x.Number)
			case ok && n <= maxDay:
				l.Fields[k] = DateOfDay(int64(n))
			case okNeg && m >= minDay:
				l.Fields[k] = DateOfDay(m)
			default:
				return fmt.Errorf("field %d: not a day number of years 1 to 9999", k)
			}
		default:
			return fmt.Errorf("field %d: a %T is not a field value", k, v)
		}
		if k == 0 {
			return errors.New("field number 0")
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
	if !in.Licence.ValidUntil.IsZero() {
		exp := in.Licence.ValidUntil.end().Unix()
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
