package signing

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/errs"
)

// SignCompactQR signs in as a compact QR text (profile CH1,
// docs/compact-qr.md) with the authority's current COSE-capable seal key:
// its document key when that is ES256 or EdDSA, else its active ES256 key,
// else its active EdDSA key. SM2 is not a COSE algorithm, so an authority
// whose only active key is SM2 gets errs.Conflict saying which key to add.
// Retired keys never sign; a key marked compromised is refused
// (errs.Conflict, naming it), even while still active. It returns the text
// and the kid of the key that signed.
func (m *Manager) SignCompactQR(ctx context.Context, authority string, in compactqr.Input) (text, kid string, err error) {
	keys, err := m.store.ListKeys(ctx, authority)
	if err != nil {
		return "", "", err
	}
	var k, compromised *Key
	rank := func(x *Key) int { // lower is better
		switch {
		case x.Documents:
			return 0
		case x.Algorithm == ES256:
			return 1
		}
		return 2
	}
	for _, x := range keys {
		if x.Status != KeyActive || (x.Algorithm != ES256 && x.Algorithm != EdDSA) {
			continue
		}
		if x.CompromisedFrom != nil {
			compromised = x
			continue
		}
		if k == nil || rank(x) < rank(k) {
			k = x
		}
	}
	if k == nil {
		if compromised != nil {
			return "", "", errs.E(errs.Conflict, "the %s seal key %s of authority %s is marked compromised from %s; rotate it before making compact QR codes",
				compromised.Algorithm, compromised.KID, authority, compromised.CompromisedFrom.UTC().Format(time.RFC3339))
		}
		return "", "", errs.E(errs.Conflict, "authority %s has no active ES256 or EdDSA seal key, which a compact QR (COSE) needs: SM2 is not a COSE algorithm; add one: "+
			`POST /api/v1/authorities/%s/keys {"algorithm": "ES256"}`, authority, authority)
	}
	thumb, err := base64.RawURLEncoding.DecodeString(k.KID)
	if err != nil {
		return "", "", errs.Wrap(err, "seal key %s: kid is not a base64url thumbprint", k.KID)
	}
	signer, err := m.signer(ctx, k)
	if err != nil {
		return "", "", err
	}
	text, err = compactqr.Encode(signer, thumb, in)
	if err != nil {
		return "", "", errs.Wrap(err, "compact QR")
	}
	return text, k.KID, nil
}
