package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// LedgerKey is the hub's key for signing audit-ledger checkpoints, as C2SP
// signed notes. It is derived from the master key, so every replica signs
// with the same key and nothing more needs storing; the public half is
// published so that auditors can verify checkpoints offline.
type LedgerKey struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the note verifier key text (name+hash+key) to publish.
	VerifierKey string
}

// NewLedgerKey derives the ledger key for a log named origin.
func NewLedgerKey(m *MasterKey, origin string) (*LedgerKey, error) {
	seed := m.derive("ledger checkpoint key v1")
	priv := ed25519.NewKeyFromSeed(seed)
	vkey, err := note.NewEd25519VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	// name+hash+key: the name has no '+', the base64 key may.
	name, rest, _ := strings.Cut(vkey, "+")
	hash, _, ok := strings.Cut(rest, "+")
	if !ok {
		return nil, fmt.Errorf("unexpected verifier key %q", vkey)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", name, hash, base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &LedgerKey{Signer: signer, Verifier: verifier, VerifierKey: vkey}, nil
}
