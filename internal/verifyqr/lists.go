package verifyqr

import (
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/signing"
)

// Reason is a verification failure code; the codec's reasons
// (compactqr.BadBase45, …) are of the same type.
type Reason = compactqr.Reason

// The reasons this package adds to the codec's (docs/verify-qr.md).
const (
	BadHubKey         Reason = "bad_hub_key"        // the hub key file is not an Ed25519 public JWK
	BadTrustList      Reason = "bad_trust_list"     // not a trust list signed by the hub key
	BadStatusList     Reason = "bad_status_list"    // not a Token Status List signed by the hub key
	StaleLists        Reason = "stale_lists"        // the trust list or the QR's status list is past its exp
	NoQR              Reason = "no_qr"              // the image is not an image, or holds no QR code
	IssuerMismatch    Reason = "issuer_mismatch"    // the QR's iss is not the trust list's hub, or its key is another authority's
	KeyNotYetValid    Reason = "key_not_yet_valid"  // sealed (iat) before the key existed
	KeyRetired        Reason = "key_retired"        // sealed (iat) after the key was retired
	KeyCompromised    Reason = "key_compromised"    // sealed (iat) at or after the key's compromised_from
	NotYetValid       Reason = "not_yet_valid"      // the licence's first valid day is still to come
	NoStatus          Reason = "no_status"          // a warning, not a failure: the QR names no status list entry
	StatusUnavailable Reason = "status_unavailable" // no status list given is the one the QR names
	BadStatusIndex    Reason = "bad_status_index"   // the QR's index is past the end of its status list
	Revoked           Reason = "revoked"            // status 1 (INVALID)
	Suspended         Reason = "suspended"          // status 2 (SUSPENDED)
	BadStatus         Reason = "bad_status"         // status 3 (application-specific, not used by certhub)
)

// Error is a cached file that cannot be used.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns err's Reason (this package's or the codec's), or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return compactqr.ReasonOf(err)
}

func failf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Err: fmt.Errorf(format, args...)}
}

// maxStatusEntries caps a status list's entries: 64 times the largest
// list the hub opens (1,048,576 entries is what the benchmarks use), 16 MiB
// at two bits an entry, so a zlib bomb in a cached file stops there.
const maxStatusEntries = 64 << 20

// ParseHubKey reads the hub's public key (signing.ParseHubPublicKey).
func ParseHubKey(b []byte) (ed25519.PublicKey, error) {
	pub, err := signing.ParseHubPublicKey(b)
	if err != nil {
		return nil, &Error{Reason: BadHubKey, Err: err}
	}
	return pub, nil
}

// verifyJWS checks a compact JWS signed by hub with typ
// (signing.VerifyHubSigned) and returns its payload.
func verifyJWS(token []byte, hub ed25519.PublicKey, typ string) ([]byte, error) {
	payload, _, err := signing.VerifyHubSigned(token, hub, typ)
	return payload, err
}

// TrustList is a verified trust list.
type TrustList struct {
	Issuer   string
	IssuedAt time.Time
	Expires  time.Time
	Keys     int // how many seal keys it states
	byKid    map[[compactqr.KidSize]byte]*trustedKey
}

type trustedKey struct {
	signing.TrustedKey
	pub crypto.PublicKey
}

// ParseTrustList verifies a trust list (signing.Manager.TrustList's compact
// JWS: alg EdDSA, typ certhub-trust-list+jwt) with the hub key and indexes
// its ES256 and EdDSA keys by the compact QR kid: the first 8 bytes of the
// RFC 7638 SHA-256 thumbprint computed here from each JWK. (SM2 keys seal
// no compact QR and are not indexed.) Whether it is stale is for Verify to
// say, with its now: a stale list still tells what it held.
func ParseTrustList(token []byte, hub ed25519.PublicKey) (*TrustList, error) {
	payload, err := verifyJWS(token, hub, signing.TrustListType)
	if err != nil {
		return nil, &Error{Reason: BadTrustList, Err: err}
	}
	var p signing.TrustList
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, failf(BadTrustList, "payload: %v", err)
	}
	if p.Issuer == "" || p.IssuedAt == 0 || p.Expires == 0 {
		return nil, failf(BadTrustList, "payload: iss, iat and exp are required")
	}
	tl := &TrustList{Issuer: p.Issuer, IssuedAt: time.Unix(p.IssuedAt, 0), Expires: time.Unix(p.Expires, 0), Keys: len(p.Keys),
		byKid: make(map[[compactqr.KidSize]byte]*trustedKey, len(p.Keys))}
	for i := range p.Keys {
		e := p.Keys[i]
		if e.Alg != "ES256" && e.Alg != "EdDSA" {
			continue
		}
		k, err := jwk.ParseKey(e.JWK)
		if err != nil {
			return nil, failf(BadTrustList, "key %s: %v", e.KID, err)
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, failf(BadTrustList, "key %s: %v", e.KID, err)
		}
		var pub any
		if err := jwk.Export(k, &pub); err != nil {
			return nil, failf(BadTrustList, "key %s: %v", e.KID, err)
		}
		if _, isPrivate := pub.(crypto.Signer); isPrivate {
			return nil, failf(BadTrustList, "key %s: a private key", e.KID)
		}
		tl.byKid[[compactqr.KidSize]byte(tp)] = &trustedKey{TrustedKey: e, pub: pub}
	}
	return tl, nil
}

func (tl *TrustList) key(kid []byte) *trustedKey {
	if len(kid) != compactqr.KidSize {
		return nil
	}
	return tl.byKid[[compactqr.KidSize]byte(kid)]
}

// StatusList is a verified IETF Token Status List.
type StatusList struct {
	URI      string        // sub: the URL it is served at, which QR status references name
	IssuedAt time.Time     // iat
	Expires  time.Time     // exp; zero when absent
	TTL      time.Duration // ttl; 0 when absent
	list     *statuslist.List
}

// ParseStatusList verifies a Token Status List JWT (typ statuslist+jwt,
// alg EdDSA) with the hub key and decodes its entries
// (statuslist.DecodeTSL). It needs sub, iat, and exp or ttl (without either
// no one can say when it is stale).
func ParseStatusList(token []byte, hub ed25519.PublicKey) (*StatusList, error) {
	payload, err := verifyJWS(token, hub, statuslist.TSLType)
	if err != nil {
		return nil, &Error{Reason: BadStatusList, Err: err}
	}
	var c statuslist.TSLClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, failf(BadStatusList, "claims: %v", err)
	}
	switch {
	case c.Subject == "":
		return nil, failf(BadStatusList, "claims: sub (the list's URL) is required")
	case c.IssuedAt <= 0:
		return nil, failf(BadStatusList, "claims: iat is required")
	case c.TTL < 0 || c.Expires < 0:
		return nil, failf(BadStatusList, "claims: negative exp or ttl")
	case c.Expires == 0 && c.TTL == 0:
		return nil, failf(BadStatusList, "claims: exp or ttl is required, to know when the list is stale")
	}
	sl := &StatusList{URI: c.Subject, IssuedAt: time.Unix(c.IssuedAt, 0), TTL: time.Duration(c.TTL) * time.Second}
	if c.Expires > 0 {
		sl.Expires = time.Unix(c.Expires, 0)
	}
	if sl.list, err = c.List(maxStatusEntries); err != nil {
		return nil, failf(BadStatusList, "claims: status_list: %v", err)
	}
	return sl, nil
}

// Len is how many entries the list holds.
func (l *StatusList) Len() int { return l.list.Len() }

// Status returns entry idx; false when idx is past the end.
func (l *StatusList) Status(idx uint64) (statuslist.Status, bool) {
	if idx >= uint64(l.list.Len()) {
		return 0, false
	}
	st, err := l.list.Get(int(idx))
	return st, err == nil
}

// staleAt is when the list may no longer be used: exp, or iat + ttl for a
// list without exp.
func (l *StatusList) staleAt() time.Time {
	if !l.Expires.IsZero() {
		return l.Expires
	}
	return l.IssuedAt.Add(l.TTL)
}
