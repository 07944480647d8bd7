package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

// MasterKey is the root secret. Every other secret (seal key wrapping, holder
// index and holder encryption keys) is derived from it with HKDF-SHA256, each
// under its own label, so one purpose's key never serves another.
type MasterKey struct{ b [MasterKeySize]byte }

// GenerateMasterKey makes a new random master key.
func GenerateMasterKey() (*MasterKey, error) {
	var m MasterKey
	if _, err := rand.Read(m.b[:]); err != nil {
		return nil, err
	}
	return &m, nil
}

// ParseMasterKey reads a base64 (standard or URL, padded or not) or hex
// encoded 32-byte key.
func ParseMasterKey(s string) (*MasterKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil && len(raw) == MasterKeySize {
			break
		}
	}
	if len(raw) != MasterKeySize {
		if raw, err = hex.DecodeString(s); err != nil || len(raw) != MasterKeySize {
			return nil, fmt.Errorf("master key must be %d bytes, base64 or hex encoded", MasterKeySize)
		}
	}
	var m MasterKey
	copy(m.b[:], raw)
	return &m, nil
}

// String encodes the key as standard base64, the form ParseMasterKey reads.
func (m *MasterKey) String() string { return base64.StdEncoding.EncodeToString(m.b[:]) }

func (m *MasterKey) derive(label string) []byte {
	k, err := hkdf.Key(sha256.New, m.b[:], nil, "certhub "+label, 32)
	if err != nil {
		panic(err) // only fails for lengths HKDF cannot produce
	}
	return k
}

// aead is AES-256-GCM with a random nonce prefixed to the ciphertext.
type aead struct{ gcm cipher.AEAD }

func newAEAD(key []byte) aead {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead{gcm: gcm}
}

func (a aead) seal(plain, ad []byte) []byte {
	nonce := make([]byte, a.gcm.NonceSize(), a.gcm.NonceSize()+len(plain)+a.gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return a.gcm.Seal(nonce, nonce, plain, ad)
}

func (a aead) open(sealed, ad []byte) ([]byte, error) {
	n := a.gcm.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("ciphertext too short")
	}
	return a.gcm.Open(nil, sealed[:n], sealed[n:], ad)
}

// Vault protects holder identifiers at rest: a keyed hash to find them and
// an authenticated ciphertext to show them to those allowed to see them.
type Vault struct {
	indexKey []byte
	shareKey []byte
	box      aead
}

// NewVault derives the vault's keys from the master key.
func NewVault(m *MasterKey) *Vault {
	return &Vault{indexKey: m.derive("holder index v1"), shareKey: m.derive("share token v1"), box: newAEAD(m.derive("holder seal v1"))}
}

// ShareToken derives the secret token of a share from its id: 256 bits
// that nobody without the master key can compute. The database keeps only
// the token's hash; the hub can still render the share's QR code again for
// its holder.
func (v *Vault) ShareToken(shareID string) string {
	h := hmac.New(sha256.New, v.shareKey)
	h.Write([]byte(shareID))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Index returns the keyed hash (HMAC-SHA256, hex) under which a holder is
// found. The holder kind is part of the input, so a person and an
// organisation never share an index entry.
func (v *Vault) Index(kind, id string) string {
	h := hmac.New(sha256.New, v.indexKey)
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// Seal encrypts a holder ID; the kind is bound as associated data.
func (v *Vault) Seal(kind, id string) []byte { return v.box.seal([]byte(id), []byte(kind)) }

// Open decrypts what Seal produced.
func (v *Vault) Open(kind string, sealed []byte) (string, error) {
	b, err := v.box.open(sealed, []byte(kind))
	if err != nil {
		return "", fmt.Errorf("holder id cannot be decrypted (wrong master key?): %w", err)
	}
	return string(b), nil
}

// Box seals small values (web session cookies) with a key derived from the
// master key for one purpose, so every replica can open what another sealed.
type Box struct{ a aead }

// NewBox derives a box for purpose.
func NewBox(m *MasterKey, purpose string) *Box { return &Box{a: newAEAD(m.derive("box " + purpose))} }

// Seal encrypts and authenticates plain, bound to ad.
func (b *Box) Seal(plain, ad []byte) []byte { return b.a.seal(plain, ad) }

// Open reverses Seal.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) { return b.a.open(sealed, ad) }
