package signing

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/errs"
)

func compactInput() compactqr.Input {
	return compactqr.Input{Issuer: "https://hub.example", Now: time.Now(), Licence: compactqr.Licence{
		ID: "1.2.156.3005.2.X", IssuerUSCC: "AUTH", ValidFrom: compactqr.Date{Year: 2026, Month: 1, Day: 2}}}
}

// TestSignCompactQR: the authority's current ES256 or EdDSA key signs, a
// verifier holding that key's public part accepts it with the kid's first
// 8 thumbprint bytes; an SM2-only authority and a compromised key are
// refused, a rotated-out key never signs again.
func TestSignCompactQR(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})

	verify := func(t *testing.T, text, kid string) {
		t.Helper()
		vk, err := m.verifyKey(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		thumb, _ := base64.RawURLEncoding.DecodeString(kid)
		res, err := compactqr.Verify(text, func(k []byte) (crypto.PublicKey, error) {
			if !bytes.Equal(k, thumb[:compactqr.KidSize]) {
				return nil, errors.New("unknown kid")
			}
			return vk.key, nil
		}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if res.Alg != string(vk.alg) {
			t.Fatalf("alg %s, key %s", res.Alg, vk.alg)
		}
	}

	// SM2 only: a clear refusal naming what to add.
	if _, err := m.CreateKey(ctx, "GOV", SM2); err != nil {
		t.Fatal(err)
	}
	_, _, err := m.SignCompactQR(ctx, "GOV", compactInput())
	if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "SM2 is not a COSE algorithm") || !strings.Contains(err.Error(), `"ES256"`) {
		t.Fatalf("SM2-only authority: %v", err)
	}
	// SM2 seals its documents, EdDSA beside it: EdDSA signs the QR.
	ed, err := m.AddKey(ctx, "GOV", EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	text, kid, err := m.SignCompactQR(ctx, "GOV", compactInput())
	if err != nil || kid != ed.KID {
		t.Fatalf("signed by %s (%v), want the EdDSA key %s", kid, err, ed.KID)
	}
	verify(t, text, kid)

	// An ES256 authority; after a rotation only the new key signs.
	old, err := m.CreateKey(ctx, "AUTH", ES256)
	if err != nil {
		t.Fatal(err)
	}
	next, err := m.Rotate(ctx, "AUTH", ES256)
	if err != nil {
		t.Fatal(err)
	}
	text, kid, err = m.SignCompactQR(ctx, "AUTH", compactInput())
	if err != nil || kid != next.KID || kid == old.KID {
		t.Fatalf("signed by %s (%v), want the current key %s", kid, err, next.KID)
	}
	verify(t, text, kid)

	// Compromised: refused, naming the key.
	if _, err := m.Compromise(ctx, next.KID, m.now().Add(-time.Minute), "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.SignCompactQR(ctx, "AUTH", compactInput()); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), next.KID) {
		t.Fatalf("compromised key: %v", err)
	}
}
