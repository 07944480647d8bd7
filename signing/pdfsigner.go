package signing

import (
	"context"
	"crypto"
	"crypto/x509"

	"github.com/certhub/certhub/internal/errs"
)

// PDFSigner hands a PDF writer what a PAdES signature needs: a signer for
// the authority's active ES256 seal key and that key's certificate chain
// (the key's certificate first, then its issuers), parsed by crypto/x509.
// The private key stays behind the crypto.Signer, with its backend. PDFs
// are signed with ES256 rather than SM2 because PDF readers and Go's x509
// know P-256 certificates and not SM2 ones; the SM2 seal goes in the OFD.
// errs.Conflict when the authority has no active ES256 key, or that key no
// certificate, saying what to configure.
func (m *Manager) PDFSigner(ctx context.Context, authority string) (crypto.Signer, []*x509.Certificate, error) {
	keys, err := m.store.ListKeys(ctx, authority)
	if err != nil {
		return nil, nil, err
	}
	var k *Key
	for _, x := range keys {
		if x.Status == KeyActive && x.Algorithm == ES256 {
			k = x
		}
	}
	if k == nil {
		return nil, nil, errs.E(errs.Conflict, "authority %s has no active ES256 seal key, which its PDF signature needs; add one: "+
			`POST /api/v1/authorities/%s/keys {"algorithm": "ES256"}`, authority, authority)
	}
	if len(k.Certificate) == 0 {
		return nil, nil, errs.E(errs.Conflict, "the ES256 seal key %s of authority %s has no seal certificate yet; "+
			"restart the hub to certify it, or import one (certhub keys import-cert)", k.KID, authority)
	}
	ders, err := CertificateChain(k)
	if err != nil {
		return nil, nil, errs.Wrap(err, "seal certificate chain of %s", k.KID)
	}
	chain := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, nil, errs.Wrap(err, "seal certificate chain of %s", k.KID)
		}
		chain = append(chain, c)
	}
	signer, err := m.signer(ctx, k)
	if err != nil {
		return nil, nil, err
	}
	return signer, chain, nil
}
