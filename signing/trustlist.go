package signing

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// TrustListType is the typ of the trust list's protected header; a
// verifier requires it so no other token the hub key signs (access tokens,
// "at+jwt") passes for a trust list.
const TrustListType = "certhub-trust-list+jwt"

// TrustListTTL is how long a trust list is valid after it is issued (its
// exp): a verifier that holds one older than that fetches a new one.
const TrustListTTL = 24 * time.Hour

// TrustedKey is one seal key as the trust list states it. State is the
// key's status, or KeyCompromised once marked. ValidUntil is
// when the key was retired: it sealed nothing after, so a document that
// claims a later seal time is not trusted.
type TrustedKey struct {
	KID           string          `json:"kid"`
	Alg           string          `json:"alg"`
	JWK           json.RawMessage `json:"jwk"`
	Authority     string          `json:"authority"`
	AuthorityName string          `json:"authority_name,omitempty"`
	ValidFrom     int64           `json:"valid_from"`
	ValidUntil    *int64          `json:"valid_until,omitempty"`
	State         KeyStatus       `json:"state"`
	// CompromisedFrom is set with State KeyCompromised: documents the key
	// sealed at or after it are not trusted.
	CompromisedFrom *int64 `json:"compromised_from,omitempty"`
}

// TrustList is the trust list's payload.
type TrustList struct {
	Issuer   string       `json:"iss"`
	IssuedAt int64        `json:"iat"`
	Expires  int64        `json:"exp"`
	Keys     []TrustedKey `json:"keys"`
}

// TrustList states every seal key (active and retired, every algorithm) with
// its public JWK (x5c with its certificate chain when it has one), its
// authority (names maps an authority's code to its name) and its validity,
// and signs the statement with the hub key as a compact JWS (alg EdDSA, typ
// TrustListType, kid the hub key's). iss is the hub's public URL.
func (m *Manager) TrustList(ctx context.Context, hub *HubKey, iss string, names map[string]string, now time.Time) ([]byte, error) {
	keys, err := m.store.ListKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	tl := TrustList{Issuer: iss, IssuedAt: now.Unix(), Expires: now.Add(TrustListTTL).Unix(), Keys: make([]TrustedKey, 0, len(keys))}
	for _, k := range keys {
		j := json.RawMessage(k.PublicJWK)
		if len(k.Certificate) > 0 {
			if j, err = withX5C(k); err != nil {
				return nil, errs.Wrap(err, "seal key %s", k.KID)
			}
		}
		e := TrustedKey{KID: k.KID, Alg: k.Algorithm.JWSAlgorithm(), JWK: j, Authority: k.Authority,
			AuthorityName: names[k.Authority], ValidFrom: k.CreatedAt.Unix(), State: k.Status}
		if k.RetiredAt != nil {
			u := k.RetiredAt.Unix()
			e.ValidUntil = &u
		}
		if k.CompromisedFrom != nil {
			c := k.CompromisedFrom.Unix()
			e.State, e.CompromisedFrom = KeyCompromised, &c
		}
		tl.Keys = append(tl.Keys, e)
	}
	payload, err := json.Marshal(tl)
	if err != nil {
		return nil, err
	}
	return hub.Sign(payload, TrustListType)
}
