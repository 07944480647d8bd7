package signing

import (
	"context"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
)

// The hub seals a byte string with an authority's electronic seal (GB/T
// 38540) from what it already holds: the authority's active SM2 seal key
// and its seal certificate (the signer), the seal itself made by the hub's
// SM2 seal CA root (the seal maker, 制章者), naming the authority, listing
// the signer's certificate and carrying the authority's seal picture.

// Seal picture size on paper, in millimetres: the 40 mm round seal of
// government offices.
const sealSizeMM = 40

// SealBytes returns the DER SES_Signature (version 4) of data by the
// authority's SM2 seal. png is the authority's seal picture; propertyInfo
// says what is sealed (for an OFD, the path of the signed Signature.xml).
// errs.Conflict when the authority has no active SM2 key or that key no
// seal certificate, saying what to configure.
func (m *Manager) SealBytes(ctx context.Context, authority string, png, data []byte, propertyInfo string) ([]byte, error) {
	if m.ca == nil {
		return nil, errs.E(errs.Conflict, "this hub keeps no seal certificates, which an electronic seal needs")
	}
	keys, err := m.store.ListKeys(ctx, authority)
	if err != nil {
		return nil, err
	}
	var k *Key
	for _, x := range keys {
		if x.Status == KeyActive && x.Algorithm == SM2 {
			k = x
		}
	}
	if k == nil {
		return nil, errs.E(errs.Conflict, "authority %s has no active SM2 seal key, which its electronic seal needs; add one: "+
			`POST /api/v1/authorities/%s/keys {"algorithm": "SM2"}`, authority, authority)
	}
	if len(k.Certificate) == 0 {
		return nil, errs.E(errs.Conflict, "the SM2 seal key %s of authority %s has no seal certificate yet; "+
			"restart the hub to certify it, or import one (certhub keys import-cert)", k.KID, authority)
	}
	cert, err := smx509.ParseCertificate(k.Certificate)
	if err != nil {
		return nil, errs.Wrap(err, "seal certificate of %s", k.KID)
	}
	subject, err := m.ca.SealSubject(ctx, authority)
	if err != nil {
		return nil, err
	}
	signer, err := m.signer(ctx, k)
	if err != nil {
		return nil, err
	}
	maker, err := m.root(ctx, "SM2")
	if err != nil {
		return nil, err
	}
	seal, err := MakeSeal(maker.signer, maker.der, SealSpec{
		ESID:        fmt.Sprintf("%s-%s", authority, k.KID[:12]),
		Name:        subject.Name,
		SignerCerts: [][]byte{k.Certificate},
		Created:     k.CreatedAt,
		ValidStart:  cert.NotBefore,
		ValidEnd:    cert.NotAfter,
		PNG:         png,
		WidthMM:     sealSizeMM,
		HeightMM:    sealSizeMM,
	})
	if err != nil {
		return nil, err
	}
	return SignSES(signer, k.Certificate, seal, data, m.now(), propertyInfo)
}

// VerifySealedBytes is VerifySES, the same code `certhub seals verify`
// runs, plus the question VerifySES leaves to its caller: do the signer's
// and the seal maker's certificates chain to a root this hub trusts for
// seals (its seal CA, and the roots of imported chains)? The answer is a
// check of its own ("trusted"), so the report still says everything else.
func (m *Manager) VerifySealedBytes(ctx context.Context, ses, data []byte) (*SESReport, error) {
	rep, err := VerifySES(ses, data, m.now())
	if err != nil {
		return rep, err
	}
	roots, err := m.trustedRoots(ctx)
	if err != nil {
		return nil, err
	}
	trusted := func(der []byte) bool {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return false
		}
		for _, r := range roots {
			if c.Equal(r) || c.CheckSignatureFrom(r) == nil {
				return true
			}
		}
		return false
	}
	switch {
	case !trusted(rep.SignerCert):
		rep.add("trusted", false, "the signer's certificate (%s) is not issued by a seal CA root this hub trusts", rep.Signer)
	case !trusted(rep.MakerCert):
		rep.add("trusted", false, "the seal maker's certificate (%s) is not issued by a seal CA root this hub trusts", rep.Maker)
	default:
		rep.add("trusted", true, "the signer's and the seal maker's certificates chain to this hub's seal CA roots")
	}
	rep.Valid = rep.Valid && rep.Check("trusted").OK
	return rep, nil
}

// trustedRoots parses the roots TrustedRootsPEM publishes.
func (m *Manager) trustedRoots(ctx context.Context) ([]*smx509.Certificate, error) {
	pemBytes, err := m.TrustedRootsPEM(ctx)
	if err != nil {
		return nil, err
	}
	ders, err := parseChain("roots", pemBytes)
	if err != nil {
		return nil, err
	}
	var out []*smx509.Certificate
	for _, der := range ders {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return nil, errs.Wrap(err, "trusted seal root")
		}
		out = append(out, c)
	}
	return out, nil
}
