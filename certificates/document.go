package certificates

import (
	"encoding/json"
	"time"
)

// The signed document's payload follows the W3C Verifiable Credentials 2.0
// data model. It is sealed as a compact JWS (typ "vc+jwt", cty "vc"), the
// kid naming the authority's seal key.
type credential struct {
	Context           []string         `json:"@context"`
	ID                string           `json:"id"`
	Type              []string         `json:"type"`
	Issuer            credentialIssuer `json:"issuer"`
	ValidFrom         string           `json:"validFrom"`
	ValidUntil        string           `json:"validUntil,omitempty"`
	CredentialSubject credentialSubj   `json:"credentialSubject"`
	Licence           licenceMeta      `json:"licence"`
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

func buildCredential(c *Certificate, t *Type, a *Authority, loc *time.Location) ([]byte, error) {
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
	if !c.ValidUntil.IsZero() {
		vc.ValidUntil = c.ValidUntil.AddDays(1).Start(loc).Add(-time.Second).Format(time.RFC3339)
	}
	return json.Marshal(vc)
}

// DocumentClaims is what verification reads from a document's payload.
type DocumentClaims struct {
	ID     string `json:"id"`
	Issuer struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"issuer"`
	ValidFrom         string          `json:"validFrom"`
	ValidUntil        string          `json:"validUntil"`
	CredentialSubject json.RawMessage `json:"credentialSubject"`
}
