package statuslist

import (
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// The JOSE header typ and HTTP media type of each published list.
const (
	TSLType      = "statuslist+jwt"
	TSLMediaType = "application/statuslist+jwt"
	BSLType      = "vc+jwt"
	BSLMediaType = "application/vc+jwt"
)

// TSLClaims is the payload of an IETF Token Status List JWT.
type TSLClaims struct {
	Subject    string        `json:"sub"`
	IssuedAt   int64         `json:"iat"`
	Expires    int64         `json:"exp"`
	TTL        int64         `json:"ttl"`
	StatusList TSLStatusList `json:"status_list"`
}

// TSLStatusList is the "status_list" claim of a TSL JWT.
type TSLStatusList struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

// NewTSLClaims builds the claims of the TSL JWT published at uri: issued
// at iat, expiring exp later, to be re-fetched ttl after it was fetched.
func NewTSLClaims(uri string, l *List, iat time.Time, exp, ttl time.Duration) (TSLClaims, error) {
	lst, err := l.EncodeTSL()
	if err != nil {
		return TSLClaims{}, err
	}
	return TSLClaims{
		Subject:    uri,
		IssuedAt:   iat.Unix(),
		Expires:    iat.Add(exp).Unix(),
		TTL:        int64(ttl / time.Second),
		StatusList: TSLStatusList{Bits: l.bits, Lst: lst},
	}, nil
}

// List decodes the claims' list, at most maxEntries entries.
func (c TSLClaims) List(maxEntries int) (*List, error) {
	return DecodeTSL(c.StatusList.Lst, c.StatusList.Bits, maxEntries)
}

// The W3C Verifiable Credentials 2.0 names a BSL credential uses.
const (
	CredentialsV2     = "https://www.w3.org/ns/credentials/v2"
	BSLCredentialType = "BitstringStatusListCredential"
	BSLSubjectType    = "BitstringStatusList"
	BSLEntryType      = "BitstringStatusListEntry"
)

// BSLCredential is a BitstringStatusListCredential (VC 2.0), the payload of
// the JWS served at its id. IssuedAt and Expires repeat validFrom and
// validUntil as JWT claims, so a JOSE library enforces them too.
type BSLCredential struct {
	Context           []string   `json:"@context"`
	ID                string     `json:"id"`
	Type              []string   `json:"type"`
	Issuer            string     `json:"issuer"`
	ValidFrom         string     `json:"validFrom"`
	ValidUntil        string     `json:"validUntil"`
	CredentialSubject BSLSubject `json:"credentialSubject"`
	IssuedAt          int64      `json:"iat"`
	Expires           int64      `json:"exp"`
}

// BSLSubject is a BSL credential's credentialSubject.
type BSLSubject struct {
	ID            string  `json:"id"`
	Type          string  `json:"type"`
	StatusPurpose Purpose `json:"statusPurpose"`
	EncodedList   string  `json:"encodedList"`
	// TTL is the W3C ttl: milliseconds a verifier may cache the list.
	TTL int64 `json:"ttl,omitempty"`
}

// NewBSLCredential builds the BSL credential of purpose p published at uri
// by issuer, valid from validFrom for exp, to be re-fetched ttl after it
// was fetched.
func NewBSLCredential(uri, issuer string, l *List, p Purpose, validFrom time.Time, exp, ttl time.Duration) (BSLCredential, error) {
	enc, err := l.EncodeBSL(p)
	if err != nil {
		return BSLCredential{}, err
	}
	from := validFrom.UTC().Truncate(time.Second)
	until := from.Add(exp)
	return BSLCredential{
		Context:    []string{CredentialsV2},
		ID:         uri,
		Type:       []string{"VerifiableCredential", BSLCredentialType},
		Issuer:     issuer,
		ValidFrom:  from.Format(time.RFC3339),
		ValidUntil: until.Format(time.RFC3339),
		CredentialSubject: BSLSubject{
			ID: uri + "#list", Type: BSLSubjectType, StatusPurpose: p, EncodedList: enc, TTL: ttl.Milliseconds(),
		},
		IssuedAt: from.Unix(),
		Expires:  until.Unix(),
	}, nil
}

// Bitstring decodes the credential's list, at most maxEntries entries.
func (c BSLCredential) Bitstring(maxEntries int) (*Bitstring, error) {
	return DecodeBSL(c.CredentialSubject.EncodedList, maxEntries)
}

// BSLEntry is one credentialStatus entry of a document.
type BSLEntry struct {
	ID                   string  `json:"id"`
	Type                 string  `json:"type"`
	StatusPurpose        Purpose `json:"statusPurpose"`
	StatusListIndex      string  `json:"statusListIndex"`
	StatusListCredential string  `json:"statusListCredential"`
}

// Entries are the credentialStatus entries of the version at (list, idx):
// one for revocation, one for suspension.
func Entries(public string, list, idx int) []BSLEntry {
	out := make([]BSLEntry, 0, 2)
	for _, p := range []Purpose{Revocation, Suspension} {
		u := BSLURL(public, list, p)
		out = append(out, BSLEntry{
			ID: u + "#" + strconv.Itoa(idx), Type: BSLEntryType, StatusPurpose: p,
			StatusListIndex: strconv.Itoa(idx), StatusListCredential: u,
		})
	}
	return out
}

// Claim is the IETF "status" claim of a referenced token (JWT claim
// "status", CWT claim 65535).
type Claim struct {
	StatusList Ref `json:"status_list" cbor:"status_list"`
}

// Ref is a token's entry in a Token Status List.
type Ref struct {
	Idx int    `json:"idx" cbor:"idx"`
	URI string `json:"uri" cbor:"uri"`
}

// NewClaim is the status claim of the version at (list, idx).
func NewClaim(public string, list, idx int) Claim {
	return Claim{StatusList: Ref{Idx: idx, URI: TSLURL(public, list)}}
}

// ParseTSLName parses the {list} segment of a TSL path: a list number.
// Errors are Invalid naming "list".
func ParseTSLName(s string) (int, error) {
	return parseNumber(s)
}

// ParseBSLName parses the {list} segment of a BSL path,
// "<number>-revocation" or "<number>-suspension". Errors are Invalid naming
// "list".
func ParseBSLName(s string) (int, Purpose, error) {
	num, purpose, ok := strings.Cut(s, "-")
	if !ok {
		return 0, "", errs.Field("list", "%q is not <number>-revocation or <number>-suspension", s)
	}
	n, err := parseNumber(num)
	if err != nil {
		return 0, "", err
	}
	switch p := Purpose(purpose); p {
	case Revocation, Suspension:
		return n, p, nil
	}
	return 0, "", errs.Field("list", "purpose %q in %q is neither revocation nor suspension", purpose, s)
}

func parseNumber(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return 0, errs.Field("list", "%q is not a list number (a positive decimal without leading zeros)", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 1 {
		return 0, errs.Field("list", "%q is not a list number (lists are numbered from 1)", s)
	}
	return n, nil
}
