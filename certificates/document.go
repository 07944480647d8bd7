package certificates

import (
	"encoding/json"
	"time"

	"github.com/certhub/certhub/internal/statuslist"
)

// The signed document's payload follows the W3C Verifiable Credentials 2.0
// data model. It is sealed as a compact JWS (typ "vc+jwt", cty "vc"), the
// kid naming the authority's seal key. Since issue 13 it also carries the
// JWT registered claims, which generic VC-JWT verifiers (did-jwt-vc,
// trustbloc/vc-go, jose) require; they repeat the VC properties and
// verification checks that they agree (registeredClaimReasons).
type credential struct {
	ISS       string `json:"iss"`
	JTI       string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp,omitempty"`

	Context           []string         `json:"@context"`
	ID                string           `json:"id"`
	Type              []string         `json:"type"`
	Issuer            credentialIssuer `json:"issuer"`
	ValidFrom         string           `json:"validFrom"`
	ValidUntil        string           `json:"validUntil,omitempty"`
	CredentialSubject credentialSubj   `json:"credentialSubject"`
	Licence           licenceMeta      `json:"licence"`

	// Status references (issue 13): the W3C entries, one per purpose,
	// and the IETF Token Status List claim, both at the same index.
	CredentialStatus []statuslist.BSLEntry `json:"credentialStatus,omitempty"`
	Status           *statuslist.Claim     `json:"status,omitempty"`
}

type credentialIssuer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type credentialSubj struct {
	Holder Holder         `json:"holder"`
	Data   map[string]any `json:"data"`
}

type licenceMeta struct {
	Type     string `json:"type"`
	TypeName string `json:"typeName"`
	Serial   string `json:"serial"`
	Version  int    `json:"version"`
	IssuedAt string `json:"issuedAt"`
}

// IssuerURN is the issuer id used in documents for an authority.
func IssuerURN(uscc string) string { return "urn:uscc:" + uscc }

func buildCredential(c *Certificate, t *Type, a *Authority, loc *time.Location, public string) ([]byte, error) {
	vc := credential{
		Context: []string{"https://www.w3.org/ns/credentials/v2"},
		ID:      c.ID,
		Type:    []string{"VerifiableCredential", "ElectronicLicence"},
		Issuer:  credentialIssuer{ID: IssuerURN(a.Code), Name: a.Name},
		// Validity is a civil date range; it starts at midnight and ends
		// at the last second of ValidUntil, in the hub's time zone.
		ValidFrom:         c.ValidFrom.Start(loc).Format(time.RFC3339),
		CredentialSubject: credentialSubj{Holder: c.Holder, Data: c.Data},
		Licence: licenceMeta{Type: t.Code, TypeName: t.Name, Serial: c.Serial, Version: c.Version,
			IssuedAt: c.IssuedAt.Format(time.RFC3339Nano)},
	}
	vc.ISS, vc.JTI = vc.Issuer.ID, vc.ID
	vc.IssuedAt = c.IssuedAt.Unix()
	vc.NotBefore = notBefore(c.ValidFrom, loc)
	if !c.ValidUntil.IsZero() {
		vc.ValidUntil = c.ValidUntil.AddDays(1).Start(loc).Add(-time.Second).Format(time.RFC3339)
		vc.Expires = expires(c.ValidUntil, loc)
	}
	if c.Status != nil && public != "" {
		vc.CredentialStatus = statuslist.Entries(public, c.Status.List, c.Status.Index)
		claim := statuslist.NewClaim(public, c.Status.List, c.Status.Index)
		vc.Status = &claim
	}
	return json.Marshal(vc)
}

// notBefore is the nbf of a licence valid from the civil date from: the
// first second of that day in the hub's zone.
func notBefore(from Date, loc *time.Location) int64 { return from.Start(loc).Unix() }

// expires is the exp of a licence valid until the civil date until: the
// first second after that day in the hub's zone (JWT exp is exclusive, so
// the licence is valid through the whole of its last day, as StatusOn says).
func expires(until Date, loc *time.Location) int64 { return until.AddDays(1).Start(loc).Unix() }

// DocumentClaims is what verification reads from a document's payload.
// The registered claims are pointers: documents sealed before issue 13 do
// not carry them, and they stay valid. iat is not checked against a VC
// property (none states it); it is the document's seal time, which decides
// whether a key compromised from some instant still vouches for it.
type DocumentClaims struct {
	Iss *string `json:"iss"`
	JTI *string `json:"jti"`
	IAT *int64  `json:"iat"`
	NBF *int64  `json:"nbf"`
	EXP *int64  `json:"exp"`

	ID     string `json:"id"`
	Issuer struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"issuer"`
	ValidFrom         string          `json:"validFrom"`
	ValidUntil        string          `json:"validUntil"`
	CredentialSubject json.RawMessage `json:"credentialSubject"`
}
