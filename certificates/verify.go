package certificates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Reasons a verification gives for an invalid answer, beyond the signing
// package's malformed_document, unknown_key and bad_signature (followed,
// when the cause is known, by der_signature or sm2_signature_without_z).
const (
	ReasonMalformedIdentifier = "malformed_identifier"
	ReasonNotFound            = "not_found"
	ReasonIssuerMismatch      = "issuer_mismatch"
	ReasonUnknownDocument     = "unknown_document"
	ReasonRevoked             = "revoked"
	ReasonSuspended           = "suspended"
	ReasonExpired             = "expired"
	ReasonSuperseded          = "superseded"
	ReasonNotYetValid         = "not_yet_valid"
	// ReasonKeyCompromised: the document was sealed at or after the
	// instant from which its key is marked compromised.
	ReasonKeyCompromised = signing.ReasonKeyCompromised
	// ReasonKeyNotYetValid and ReasonKeyRetired: another hub's key, by its
	// trust list, did not exist yet or was retired at the seal time.
	ReasonKeyNotYetValid = signing.ReasonKeyNotYetValid
	ReasonKeyRetired     = signing.ReasonKeyRetired
	// The JWT registered claims of a document disagree with its VC
	// properties: iss with issuer.id, jti with id, nbf with validFrom, exp
	// with validUntil (exp present without validUntil, or missing with it,
	// disagrees too). Documents without the claims (before issue 13) are
	// not checked for them.
	ReasonISSMismatch = "iss_mismatch"
	ReasonJTIMismatch = "jti_mismatch"
	ReasonNBFMismatch = "nbf_mismatch"
	ReasonEXPMismatch = "exp_mismatch"
)

// Verification is the answer to "is this genuine and current?".
type Verification struct {
	Valid     bool
	Reasons   []string
	Authority *Authority // who sealed it (document) or issued it (identifier)
	KID       string
	// Certificate is the registry's record, when one was found, without
	// the certificate's data and sealed holder id (a document carries its
	// data; Subject is what it says).
	Certificate *Certificate
	Status      Status
	// Current reports whether the version is the current one; CurrentID
	// names the newer version when it is not.
	Current   bool
	CurrentID string
	// Subject is the credentialSubject the document carries (documents only).
	Subject json.RawMessage
	// Home is the hub whose trust list states the document's key, when it
	// is another hub's (documents only): that hub holds the certificate.
	Home string
}

// VerifyDocument checks a sealed document: signature against the key its
// kid names, issuer, that the hub holds exactly this document, and the
// certificate's current status (from the status cache when there is one:
// kept fresh by change notifications, statuscache.go).
func (s *Service) VerifyDocument(ctx context.Context, document []byte) (*Verification, error) {
	v := &Verification{}
	ver, err := s.Keys.Verify(ctx, document)
	if err != nil {
		if ve, ok := signing.IsVerifyError(err); ok {
			v.KID = ve.KID
			v.Reasons = []string{ve.Reason}
			if ve.Cause != "" {
				v.Reasons = append(v.Reasons, ve.Cause)
			}
			return v, nil
		}
		return nil, err
	}
	v.KID = ver.KID
	if ver.Foreign != nil {
		v.Home = ver.Foreign.Hub
	}
	// The JSON v2 decoder (see the HTTP adapter's decodeJSON): one pass,
	// a tenth of a verification; a payload with a name given twice or
	// bytes that are not UTF-8 is malformed, never read one way here and
	// another way by the holder's wallet.
	var claims DocumentClaims
	if err := jsonv2.Unmarshal(ver.Payload, &claims); err != nil || claims.ID == "" {
		v.Reasons = []string{signing.ReasonMalformed}
		return v, nil
	}
	v.Subject = claims.CredentialSubject
	if a, err := s.Authority(ctx, ver.Authority); err == nil {
		v.Authority = a
	} else if !errs.Is(err, errs.NotFound) {
		return nil, err
	} else if ver.Foreign != nil {
		v.Authority = &Authority{Code: ver.Authority, Name: ver.Foreign.AuthorityName}
	}
	if claims.Issuer.ID != IssuerURN(ver.Authority) {
		v.Reasons = append(v.Reasons, ReasonIssuerMismatch)
	}
	v.Reasons = append(v.Reasons, claims.registeredClaimReasons()...)
	if _, err := ParseIdentifier(claims.ID); err != nil {
		v.Reasons = append(v.Reasons, ReasonMalformedIdentifier)
		return v, nil
	}
	// Another hub's key is judged by its trust list against the seal time
	// the document states; without iat, against the registry's below.
	if ver.Foreign != nil && claims.IAT != nil {
		v.Reasons = append(v.Reasons, ver.Foreign.Problems(time.Unix(*claims.IAT, 0))...)
	}
	c, err := s.record(ctx, claims.ID)
	if errs.Is(err, errs.NotFound) {
		v.Reasons = append(v.Reasons, ReasonNotFound)
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(document)
	if hex.EncodeToString(sum[:]) != c.DocumentSHA256 {
		v.Reasons = append(v.Reasons, ReasonUnknownDocument)
	}
	// The seal time: iat for documents that carry it, else the version's
	// issue time as the registry recorded it.
	sealedAt := c.IssuedAt
	if claims.IAT != nil {
		sealedAt = time.Unix(*claims.IAT, 0)
	}
	switch {
	case ver.Foreign == nil:
		bad, err := s.Keys.Compromised(ctx, ver.KID, sealedAt)
		if err != nil {
			return nil, err
		}
		if bad {
			v.Reasons = append(v.Reasons, ReasonKeyCompromised)
		}
	case claims.IAT == nil:
		v.Reasons = append(v.Reasons, ver.Foreign.Problems(sealedAt)...)
	}
	s.Judge(v, c)
	return v, nil
}

// registeredClaimReasons checks the JWT registered claims a document
// carries against its VC properties; an absent claim is not checked, so
// documents sealed before the claims existed stay valid. nbf is the first
// second of validFrom's day and exp the first second after validUntil's
// (validUntil being the last second of its day), as buildCredential makes
// them: RFC 3339 times name an instant whatever their offset.
func (c *DocumentClaims) registeredClaimReasons() []string {
	var r []string
	if c.Iss != nil && *c.Iss != c.Issuer.ID {
		r = append(r, ReasonISSMismatch)
	}
	if c.JTI != nil && *c.JTI != c.ID {
		r = append(r, ReasonJTIMismatch)
	}
	if c.NBF != nil {
		from, err := time.Parse(time.RFC3339, c.ValidFrom)
		if err != nil || from.Unix() != *c.NBF {
			r = append(r, ReasonNBFMismatch)
		}
	}
	// A document that carries the claims (nbf is always among them) must
	// have exp exactly when it has validUntil.
	if c.EXP != nil || (c.NBF != nil && c.ValidUntil != "") {
		until, err := time.Parse(time.RFC3339, c.ValidUntil)
		if c.EXP == nil || c.ValidUntil == "" || err != nil || until.Unix()+1 != *c.EXP {
			r = append(r, ReasonEXPMismatch)
		}
	}
	return r
}

// VerifyID checks a bare identifier: does it exist, and what is its status.
// The answer reveals no holder id and no data (the caller decides what of
// Certificate to show; see the HTTP adapter).
func (s *Service) VerifyID(ctx context.Context, id string) (*Verification, error) {
	v := &Verification{}
	if _, err := ParseIdentifier(id); err != nil {
		v.Reasons = []string{ReasonMalformedIdentifier}
		return v, nil
	}
	c, err := s.record(ctx, id)
	if errs.Is(err, errs.NotFound) {
		v.Reasons = []string{ReasonNotFound}
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	a, err := s.Authority(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	v.Authority, v.KID = a, c.KID
	s.Judge(v, c)
	return v, nil
}

// judge adds the status reasons of a found certificate and settles Valid.
// Judge sets v's status, currency and reasons from a registry record as of
// today: this hub's own certificates, and the copies its children pushed
// (aggregation) when their home hub cannot be asked.
func (s *Service) Judge(v *Verification, c *Certificate) {
	today := s.Today()
	v.Certificate = c
	v.Status = c.StatusOn(today)
	v.Current = c.State != StateSuperseded
	v.CurrentID = c.ID
	if !v.Current {
		v.CurrentID = c.SupersededBy
	}
	switch v.Status {
	case StatusRevoked:
		v.Reasons = append(v.Reasons, ReasonRevoked)
	case StatusSuspended:
		v.Reasons = append(v.Reasons, ReasonSuspended)
	case StatusExpired:
		v.Reasons = append(v.Reasons, ReasonExpired)
	case StatusSuperseded:
		v.Reasons = append(v.Reasons, ReasonSuperseded)
	}
	if today.Before(c.ValidFrom) {
		v.Reasons = append(v.Reasons, ReasonNotYetValid)
	}
	v.Valid = len(v.Reasons) == 0
}

// SealIntact reports whether the stored document of c still carries a seal
// that verifies. Documents and keys never change, so a good answer is
// cached for the life of the process; the status is not part of it.
func (s *Service) SealIntact(ctx context.Context, c *Certificate) (bool, error) {
	if _, ok := s.sealOK.Load(c.ID); ok {
		return true, nil
	}
	doc, err := s.document(ctx, c)
	if err != nil {
		return false, err
	}
	ver, err := s.Keys.Verify(ctx, doc)
	if _, bad := signing.IsVerifyError(err); bad {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ver.Authority != c.Authority {
		return false, nil
	}
	s.sealOK.Store(c.ID, true)
	return true, nil
}
