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
	// pdfsign writes these strings without escaping the bytes of their
	// UTF-16 form, and a CJK character can hold 0x5C (局 does): the
	// dictionary would be malformed. So they are ASCII: the signer's name
	// is its USCC (the certificate names the authority in full).
	name := ascii(leaf.Subject.SerialNumber, ascii(leaf.Subject.CommonName, "certhub"))
	data := pdfsign.SignData{
		Signature: pdfsign.SignDataSignature{
			CertType:   pdfsign.CertificationSignature,
			DocMDPPerm: pdfsign.DoNotAllowAnyChangesPerms,
			Info: pdfsign.SignDataSignatureInfo{
				Name:     name,
				Reason:   ascii(doc.Signer.Reason, ""),
				Location: ascii(doc.Signer.Location, ""),
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

// ascii is s when it is printable ASCII without backslashes or
// parentheses (safe unescaped in a PDF string), else fallback.
func ascii(s, fallback string) string {
	if s == "" {
		return fallback
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' || c == '(' || c == ')' {
			return fallback
		}
	}
	return s
}
