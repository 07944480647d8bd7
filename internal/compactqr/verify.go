package compactqr

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Reason is a verification failure code, shared by the API, the CLI and the
// offline page.
type Reason string

// The reasons Verify returns.
const (
	BadPrefix    Reason = "bad_prefix"    // not a certhub compact QR
	BadBase45    Reason = "bad_base45"    // not Base45
	BadZlib      Reason = "bad_zlib"      // not a ZLIB stream
	TooLarge     Reason = "too_large"     // decompresses past MaxDecompressed
	BadCBOR      Reason = "bad_cbor"      // not a well-formed, bounded COSE_Sign1 / CWT of this profile
	UnknownKey   Reason = "unknown_key"   // no trusted key has this kid
	BadAlgorithm Reason = "bad_algorithm" // alg is not ES256/EdDSA, or does not match the key
	BadSignature Reason = "bad_signature" // the signature does not verify
	Expired      Reason = "expired"       // now is at or after exp
)

// Error is a verification failure.
type Error struct {
	Reason Reason
	Err    error // detail for logs
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "compactqr: " + string(e.Reason)
	}
	return "compactqr: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns err's Reason, or "" when err is not a verification failure.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fail(r Reason, err error) *Error { return &Error{Reason: r, Err: err} }

// decMode bounds what untrusted CBOR may cost. A licence map is 9 pairs and
// its shared fields a few dozen, nesting is at most 4 deep.
var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  8,
		MaxArrayElements: 16,
		MaxMapPairs:      128,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// sign1 is COSE_Sign1 as it arrives, before go-cose sees it.
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[any]any
	Payload     []byte
	Signature   []byte
}

// maxText is the most a QR code can hold (version 40-L, alphanumeric is
// 4,296 characters), with room to spare.
const maxText = 8192

// Result is a verified compact QR.
type Result struct {
	Kid      []byte
	Alg      string // "ES256" or "EdDSA"
	Issuer   string
	IssuedAt time.Time
	Expires  time.Time // zero when the licence does not expire
	Status   *StatusRef
	Licence  Licence
}

// Verify decodes text and checks its signature with the key keys returns for
// its kid, and its expiry against now. keys returns an error when it knows no
// such kid (→ unknown_key). Revocation is not checked here: Result.Status
// points at the status list entry. On Expired the Result is returned too, so
// a caller can show what expired; on every other failure it is nil.
func Verify(text string, keys func(kid []byte) (crypto.PublicKey, error), now time.Time) (*Result, error) {
	if len(text) > maxText {
		return nil, fail(TooLarge, fmt.Errorf("%d characters; a QR code holds at most %d", len(text), maxText))
	}
	b45, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return nil, fail(BadPrefix, nil)
	}
	z, err := base45Decode(b45)
	if err != nil {
		return nil, fail(BadBase45, err)
	}
	raw, err := inflate(z)
	if err != nil {
		return nil, err
	}

	// Check the structure with the bounded decoder before go-cose parses it.
	var tag cbor.RawTag
	if err := decMode.Unmarshal(raw, &tag); err != nil {
		return nil, fail(BadCBOR, err)
	}
	if tag.Number != cose.CBORTagSign1Message {
		return nil, fail(BadCBOR, fmt.Errorf("tag %d, want 18 (COSE_Sign1)", tag.Number))
	}
	var s sign1
	if err := decMode.Unmarshal(tag.Content, &s); err != nil {
		return nil, fail(BadCBOR, err)
	}
	var hdr map[int64]any
	if err := decMode.Unmarshal(s.Protected, &hdr); err != nil {
		return nil, fail(BadCBOR, fmt.Errorf("protected header: %w", err))
	}
	kid, ok := hdr[4].([]byte)
	if !ok || len(kid) == 0 {
		return nil, fail(BadCBOR, errors.New("no kid in the protected header"))
	}
	algID, ok := hdr[1].(int64)
	alg := cose.Algorithm(algID)
	if !ok || (alg != cose.AlgorithmES256 && alg != cose.AlgorithmEdDSA) {
		return nil, fail(BadAlgorithm, fmt.Errorf("alg %v", hdr[1]))
	}
	pub, err := keys(kid)
	if err != nil || pub == nil {
		return nil, fail(UnknownKey, err)
	}
	if algFor(pub) != alg {
		return nil, fail(BadAlgorithm, fmt.Errorf("alg %v does not match the key for this kid", alg))
	}
	if err := verifySignature(alg, pub, s); err != nil {
		return nil, fail(BadSignature, err)
	}

	var c claims
	if err := decMode.Unmarshal(s.Payload, &c); err != nil {
		return nil, fail(BadCBOR, fmt.Errorf("claims: %w", err))
	}
	if c.Licence == nil {
		return nil, fail(BadCBOR, errors.New("no licence claim"))
	}
	if err := c.Licence.normalise(); err != nil {
		return nil, fail(BadCBOR, fmt.Errorf("licence: %w", err))
	}
	res := &Result{
		Kid:      kid,
		Alg:      alg.String(),
		Issuer:   c.Iss,
		IssuedAt: time.Unix(c.Iat, 0),
		Licence:  *c.Licence,
	}
	if c.Status != nil {
		st := c.Status.StatusList
		res.Status = &st
	}
	if c.Exp != nil {
		res.Expires = time.Unix(*c.Exp, 0)
		if !now.Before(res.Expires) {
			return res, fail(Expired, fmt.Errorf("expired at %s", res.Expires.UTC().Format(time.RFC3339)))
		}
	}
	return res, nil
}

// inflaters reuse ZLIB readers: a new one allocates its 32 KiB window, a
// tenth of a verification's time.
var inflaters sync.Pool

// inflate decompresses z, at most MaxDecompressed bytes.
func inflate(z []byte) ([]byte, error) {
	var zr io.ReadCloser
	var err error
	if r, ok := inflaters.Get().(io.ReadCloser); ok {
		zr = r
		err = r.(zlib.Resetter).Reset(bytes.NewReader(z), nil)
	} else {
		zr, err = zlib.NewReader(bytes.NewReader(z))
	}
	if err != nil {
		return nil, fail(BadZlib, err)
	}
	defer inflaters.Put(zr)
	raw, err := io.ReadAll(io.LimitReader(zr, MaxDecompressed+1))
	if err != nil {
		return nil, fail(BadZlib, err)
	}
	if len(raw) > MaxDecompressed {
		return nil, fail(TooLarge, fmt.Errorf("more than %d bytes after decompression", MaxDecompressed))
	}
	return raw, nil
}

// verifySignature checks s's signature over its Sig_structure (RFC 9052
// section 4.4) with no external data. It works on the bytes the bounded
// decoder already checked rather than having go-cose parse them again.
func verifySignature(alg cose.Algorithm, pub crypto.PublicKey, s sign1) error {
	tbs, err := encMode.Marshal([]any{"Signature1", s.Protected, []byte{}, s.Payload})
	if err != nil {
		return err
	}
	if len(s.Signature) != 64 {
		return fmt.Errorf("signature of %d bytes, want 64", len(s.Signature))
	}
	switch alg {
	case cose.AlgorithmES256:
		d := sha256.Sum256(tbs)
		r, ss := new(big.Int).SetBytes(s.Signature[:32]), new(big.Int).SetBytes(s.Signature[32:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], r, ss) {
			return errors.New("ES256 signature does not verify")
		}
	case cose.AlgorithmEdDSA:
		if !ed25519.Verify(pub.(ed25519.PublicKey), tbs, s.Signature) {
			return errors.New("EdDSA signature does not verify")
		}
	}
	return nil
}
