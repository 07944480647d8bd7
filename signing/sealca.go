package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
)

// A seal certificate links a seal key to the authority that holds it: its
// subject names the authority and its USCC, and it is issued by one of the
// hub's seal CA roots (an SM2 root for SM2 keys, a P-256 root for the
// others), one level deep, or imported from an external CA for a key whose
// CSR the hub made. smx509 (gmsm) writes and reads both kinds: for SM2 it
// signs SM2 with SM3 (OID 1.2.156.10197.1.501) with the Z value of the
// default user ID, which OpenSSL checks with -vfyopt distid:1234567812345678.

// oidOrganizationIdentifier is X.520 organizationIdentifier (2.5.4.97),
// where the authority's USCC goes, as eIDAS certificates carry VAT-…
var oidOrganizationIdentifier = asn1.ObjectIdentifier{2, 5, 4, 97}

// Seal CA and certificate lifetimes.
const (
	caValidity   = 20 * 365 * 24 * time.Hour
	sealValidity = 5 * 365 * 24 * time.Hour
)

// IsSM2 reports whether pub is a public key on the SM2 curve.
func IsSM2(pub crypto.PublicKey) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && k.Curve == sm2.P256()
}

// caFamily names the root a key is certified by: "SM2" or "P-256".
func caFamily(pub crypto.PublicKey) string {
	if IsSM2(pub) {
		return "SM2"
	}
	return "P-256"
}

// NewCARoot makes a self-signed seal CA root for signer's key (SM2 or
// P-256): CA, may sign certificates only one level down (path length 0).
func NewCARoot(signer crypto.Signer, org string, now time.Time) ([]byte, error) {
	pub := signer.Public()
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("a seal CA root is SM2 or P-256, not %T", pub)
	}
	ski, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: org + " seal CA (" + caFamily(pub) + ")", Organization: []string{org}, Country: []string{"CN"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(caValidity).UTC(),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("seal CA root: %w", err)
	}
	return der, nil
}

// SealSubject is who a seal certificate names.
type SealSubject struct {
	Name string // the authority's name
	USCC string // its unified social credit code
}

func (s SealSubject) name() pkix.Name {
	return pkix.Name{CommonName: s.Name, Organization: []string{s.Name}, Country: []string{"CN"}, SerialNumber: s.USCC,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdentifier, Value: "USCC-" + s.USCC}}}
}

// IssueSealCert certifies a seal key (pub) for an authority with the root
// (its DER and signer); the leaf is signed with the root's algorithm: SM2
// with SM3 for the SM2 root, ECDSA with SHA-256 for the P-256 root. An SM2
// key is certified only by an SM2 root, and any other key only by P-256.
func IssueSealCert(rootDER []byte, root crypto.Signer, pub crypto.PublicKey, subject SealSubject, now time.Time) ([]byte, error) {
	parent, err := smx509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("seal CA root: %w", err)
	}
	if caFamily(pub) != caFamily(root.Public()) {
		return nil, fmt.Errorf("a %s key is certified by the %s root, not the %s one", caFamily(pub), caFamily(pub), caFamily(root.Public()))
	}
	ski, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(sealValidity)
	if notAfter.After(parent.NotAfter) {
		notAfter = parent.NotAfter
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               subject.name(),
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        parent.SubjectKeyId,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, parent, pub, root)
	if err != nil {
		return nil, fmt.Errorf("seal certificate: %w", err)
	}
	return der, nil
}

// SealCSR makes a certificate signing request for a seal key, for an
// external CA: the same subject a hub-issued certificate would carry.
func SealCSR(key crypto.Signer, subject SealSubject) ([]byte, error) {
	der, err := smx509.CreateCertificateRequest(rand.Reader, &smx509.CertificateRequest{Subject: subject.name()}, key)
	if err != nil {
		return nil, fmt.Errorf("seal CSR: %w", err)
	}
	return der, nil
}

// CheckSealCert checks a seal certificate before it is attached to a key:
// it parses (DER or PEM), certifies exactly pub, is valid now, and is
// signed by one of roots when roots are given. Problems are errs.Invalid
// naming field.
func CheckSealCert(field string, raw []byte, pub crypto.PublicKey, roots [][]byte, now time.Time) ([]byte, error) {
	der := raw
	if b, _ := pem.Decode(raw); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, errs.Field(field, "PEM block is %q, want CERTIFICATE", b.Type)
		}
		der = b.Bytes
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, errs.Field(field, "is not an X.509 certificate: %v", err)
	}
	if !samePublicKey(c.PublicKey, pub) {
		return nil, errs.Field(field, "certifies another key than this seal key")
	}
	switch {
	case now.Before(c.NotBefore):
		return nil, errs.Field(field, "is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		return nil, errs.Field(field, "expired at %s", c.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(roots) > 0 {
		ok := false
		for _, r := range roots {
			if rc, err := smx509.ParseCertificate(r); err == nil && c.CheckSignatureFrom(rc) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return nil, errs.Field(field, "is not signed by a seal CA root the hub trusts")
		}
	}
	return der, nil
}

// CertPEM encodes DER certificates as PEM, in order.
func CertPEM(ders ...[]byte) []byte {
	var b bytes.Buffer
	for _, d := range ders {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return b.Bytes()
}

func samePublicKey(a, b crypto.PublicKey) bool {
	switch x := a.(type) {
	case *ecdsa.PublicKey:
		y, ok := b.(*ecdsa.PublicKey)
		return ok && x.Curve == y.Curve && x.X.Cmp(y.X) == 0 && x.Y.Cmp(y.Y) == 0
	case ed25519.PublicKey:
		y, ok := b.(ed25519.PublicKey)
		return ok && x.Equal(y)
	}
	return false
}

// keyID is the RFC 7093 method 1 key identifier: the leftmost 160 bits of
// the SHA-256 of the subject public key bits.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	var bits []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		// The uncompressed point, as in the certificate's key bits; SM2's
		// curve has no crypto/ecdh counterpart, so it is marshalled directly.
		bits = elliptic.Marshal(k.Curve, k.X, k.Y) //nolint:staticcheck
	case ed25519.PublicKey:
		bits = k
	default:
		return nil, errors.New("seal keys are SM2, P-256 or Ed25519")
	}
	sum := sha256.Sum256(bits)
	return sum[:20], nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x40 // never a leading zero byte: 16 bytes encoded
	return new(big.Int).SetBytes(b)
}
