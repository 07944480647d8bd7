package pdf

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"io"

	pdfread "github.com/digitorus/pdf"
	pdfsign "github.com/digitorus/pdfsign/sign"

	"github.com/certhub/certhub/internal/errs"
)

// signPDF appends to the unsigned PDF an incremental update holding a
// certification signature (DocMDP: no changes allowed) over the whole file:
// adbe.pkcs7.detached, SHA-256, the signer's certificate and its chain in
// the CMS, no timestamp (no authority is reachable from a hub) and no
// revocation data fetched (the hub's seal CA publishes none; the live
// status of a licence is what /verify answers).
func signPDF(w io.Writer, unsigned []byte, doc *Document) error {
	rd, err := pdfread.NewReader(bytes.NewReader(unsigned), int64(len(unsigned)))
	if err != nil {
		return errs.Wrap(err, "read the PDF to sign")
	}
	leaf := doc.Signer.Chain[0]
	chain := append([]*x509.Certificate(nil), doc.Signer.Chain...)
	name := leaf.Subject.CommonName
	if name == "" {
		name = doc.Author
	}
	data := pdfsign.SignData{
		Signature: pdfsign.SignDataSignature{
			CertType:   pdfsign.CertificationSignature,
			DocMDPPerm: pdfsign.DoNotAllowAnyChangesPerms,
			Info: pdfsign.SignDataSignatureInfo{
				Name:     name,
				Reason:   doc.Signer.Reason,
				Location: doc.Signer.Location,
				Date:     doc.Created,
			},
		},
		Signer:            doc.Signer.Key,
		DigestAlgorithm:   crypto.SHA256,
		Certificate:       leaf,
		CertificateChains: [][]*x509.Certificate{chain},
	}
	if err := pdfsign.Sign(bytes.NewReader(unsigned), w, rd, int64(len(unsigned)), data); err != nil {
		return errs.Wrap(err, "sign PDF")
	}
	return nil
}
