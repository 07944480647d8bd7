package licencefile

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	pdfread "github.com/digitorus/pdf"
	"github.com/digitorus/pkcs7"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/ofd"
	"github.com/certhub/certhub/signing"
)

// MaxFileBytes is the largest licence file Verify accepts: far above what
// certhub writes (some 100 KB), small enough to hold in memory.
const MaxFileBytes = 8 << 20

// Reasons a file verification gives, before the status reasons of the
// identifier the file carries (certificates.Reason*).
const (
	ReasonSealInvalid       = "seal_invalid"       // no signature, or one that does not verify
	ReasonDigestMismatch    = "digest_mismatch"    // the signed bytes were changed
	ReasonNotWholeFile      = "not_whole_file"     // bytes outside the signature (appended or in its gap)
	ReasonUntrustedSigner   = "untrusted_signer"   // the signer does not chain to a trusted seal root
	ReasonUnknownIdentifier = "unknown_identifier" // no identifier in the file, or none the hub knows
)

// Verification is what Verify found in an uploaded licence file.
type Verification struct {
	Form Format
	// SealValid: the file's seal or signature covers the whole file, its
	// digests match and its signer chains to a root the hub trusts.
	SealValid bool
	// LicenceID is the identifier the file carries (OFD licenceId, PDF
	// licenceId or Subject).
	LicenceID string
	// AnnotationID is the annotated copy (加注件) the file is, if any: it
	// is usable only while the copy is neither expired nor revoked.
	AnnotationID string
	// Problems say, for a person, what is wrong with the file itself.
	Problems []string
	// Reasons are the file's reasons (Reason*) then the identifier's.
	Reasons []string
	// Valid is SealValid and the identifier's live verification valid.
	Valid bool
	// Status is the live verification of LicenceID (nil without one).
	Status *certificates.Verification

	signer []byte // the DER certificate that sealed or signed the file
}

// Verify checks an uploaded licence file: its form (OFD or PDF, anything
// else is errs.Invalid naming "file"; over MaxFileBytes errs.TooLarge), its
// seal (OFD: every SM3 reference and the GB/T 38540 e-seal chained to a
// trusted seal root; PDF: the adbe.pkcs7.detached signature over the whole
// file, chained to a trusted seal root), then the live status of the
// identifier it carries. A file that is readable but tampered with is an
// answer (Valid false, with reasons), not an error.
func (m *Maker) Verify(ctx context.Context, data []byte) (*Verification, error) {
	if len(data) > MaxFileBytes {
		return nil, &errs.Error{Code: errs.TooLarge, Field: "file", Message: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	}
	var (
		v   *Verification
		err error
	)
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		v, err = m.verifyOFD(ctx, data)
	case bytes.HasPrefix(data, []byte("%PDF-")):
		v, err = m.verifyPDF(ctx, data)
	default:
		return nil, errs.Field("file", "not an OFD or PDF licence file")
	}
	if err != nil {
		return nil, err
	}
	v.SealValid = len(v.Reasons) == 0
	if v.LicenceID == "" {
		v.Reasons = appendOnce(v.Reasons, ReasonUnknownIdentifier)
		return v, nil
	}
	st, err := m.Certs.VerifyID(ctx, v.LicenceID)
	if err != nil {
		return nil, err
	}
	v.Status = st
	if v.SealValid && st.Certificate != nil {
		// A trusted seal is not enough: it must be a key of the authority
		// that issued this licence, not another authority's.
		mine, err := m.signedByIssuer(ctx, st.Certificate.Authority, v.signer)
		if err != nil {
			return nil, err
		}
		if !mine {
			v.SealValid = false
			v.Reasons = append(v.Reasons, certificates.ReasonIssuerMismatch)
			v.Problems = append(v.Problems, fmt.Sprintf("the file is sealed by a key that is not one of %s's", st.Certificate.Authority))
		}
	}
	for _, r := range st.Reasons {
		if r == certificates.ReasonNotFound || r == certificates.ReasonMalformedIdentifier {
			r = ReasonUnknownIdentifier
		}
		v.Reasons = appendOnce(v.Reasons, r)
	}
	v.Valid = v.SealValid && st.Valid
	if v.AnnotationID != "" {
		reason := "annotated_copy_unknown"
		if m.Annotations != nil {
			if reason, err = m.Annotations.Check(ctx, v.AnnotationID); err != nil {
				return nil, err
			}
		}
		if reason != "" {
			v.Valid = false
			v.Reasons = appendOnce(v.Reasons, reason)
		}
	}
	return v, nil
}

// signedByIssuer reports whether der is the certificate of one of the
// authority's seal keys (retired ones too: old files stay genuine).
func (m *Maker) signedByIssuer(ctx context.Context, authority string, der []byte) (bool, error) {
	keys, err := m.Certs.Keys.Keys(ctx, authority)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if len(der) > 0 && bytes.Equal(k.Certificate, der) {
			return true, nil
		}
	}
	return false, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (m *Maker) verifyOFD(ctx context.Context, data []byte) (*Verification, error) {
	rep, err := ofd.Verify(bytes.NewReader(data), int64(len(data)), func(ses, signed []byte) (*signing.SESReport, error) {
		return m.Certs.Keys.VerifySealedBytes(ctx, ses, signed)
	})
	if err != nil {
		// Unreadable input is already errs.Invalid naming "file"; anything
		// else (the trusted roots unreadable) is the hub's, not the caller's.
		return nil, err
	}
	v := &Verification{Form: OFD, LicenceID: rep.LicenceID, AnnotationID: rep.AnnotationID, Problems: rep.Problems}
	if rep.SES != nil {
		v.signer = rep.SES.SignerCert
	}
	if rep.Valid {
		return v, nil
	}
	for _, p := range rep.Problems {
		if strings.Contains(p, "digest does not match") || strings.Contains(p, "not covered by the signature") ||
			strings.Contains(p, "not in the package") || strings.Contains(p, "not base64") {
			v.Reasons = appendOnce(v.Reasons, ReasonDigestMismatch)
		}
	}
	if rep.SES != nil {
		if c := rep.SES.Check("trusted"); c != nil && !c.OK {
			v.Reasons = appendOnce(v.Reasons, ReasonUntrustedSigner)
		}
		for _, c := range rep.SES.Checks {
			if !c.OK && c.Name != "trusted" {
				v.Reasons = appendOnce(v.Reasons, ReasonSealInvalid)
			}
		}
	}
	if len(v.Reasons) == 0 {
		v.Reasons = []string{ReasonSealInvalid}
	}
	return v, nil
}

// pdfSignature is the last signature of a PDF, as found.
type pdfSignature struct {
	byteRange  []int64 // nil: no signature
	id         string
	annotation string
}

var (
	byteRangeRE    = regexp.MustCompile(`/ByteRange\s*\[\s*(\d{1,10})\s+(\d{1,10})\s+(\d{1,10})\s+(\d{1,10})\s*\]`)
	licenceIDRE    = regexp.MustCompile(`/licenceId\s*<([0-9A-Fa-f]{0,800})>`)
	annotationIDRE = regexp.MustCompile(`/annotationId\s*<([0-9A-Fa-f]{0,800})>`)
)

// readPDF finds the last signature's ByteRange and the licence identifier
// of a PDF. The signature dictionary is not parsed as a PDF object: some
// signers write its /Name as a string a strict parser refuses, and what
// matters is the ByteRange, which the signature itself covers, and the
// gap it leaves, which must be the signature value and nothing else. The
// file must still open as a PDF (up to the end of its signed part, so
// appended bytes are an answer, not an unreadable file); the parser meets
// hostile input there, and a panic in it is an unreadable file.
func readPDF(data []byte) (*pdfSignature, error) {
	sig := &pdfSignature{}
	extent := data
	if all := byteRangeRE.FindAllSubmatch(data, -1); len(all) > 0 {
		m := all[len(all)-1]
		sig.byteRange = make([]int64, 4)
		for i := range sig.byteRange {
			sig.byteRange[i], _ = strconv.ParseInt(string(m[i+1]), 10, 64)
		}
		if e := sig.byteRange[2] + sig.byteRange[3]; e <= int64(len(data)) && e > 0 {
			extent = data[:e]
		}
	}
	var id string
	if all := licenceIDRE.FindAllSubmatch(extent, -1); len(all) > 0 {
		id = utf16Hex(all[len(all)-1][1])
	}
	if all := annotationIDRE.FindAllSubmatch(extent, -1); len(all) > 0 {
		sig.annotation = strings.TrimSpace(utf16Hex(all[len(all)-1][1]))
	}
	subject, err := pdfSubject(data)
	if err != nil && len(extent) < len(data) {
		subject, err = pdfSubject(extent)
	}
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = subject
	}
	sig.id = strings.TrimSpace(id)
	return sig, nil
}

// pdfSubject opens data as a PDF and reads its Subject.
func pdfSubject(data []byte) (subject string, err error) {
	defer func() {
		if r := recover(); r != nil {
			subject, err = "", errs.Field("file", "not a readable PDF (%v)", r)
		}
	}()
	rd, err := pdfread.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", errs.Field("file", "not a readable PDF: %v", err)
	}
	return rd.Trailer().Key("Info").Key("Subject").Text(), nil
}

// utf16Hex decodes a PDF hex text string (UTF-16BE with a byte order mark,
// or PDFDocEncoding read as Latin-1).
func utf16Hex(h []byte) string {
	if len(h)%2 == 1 {
		h = append(h, '0')
	}
	b, err := hex.DecodeString(string(h))
	if err != nil {
		return ""
	}
	if len(b) < 2 || b[0] != 0xFE || b[1] != 0xFF {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

func (m *Maker) verifyPDF(ctx context.Context, data []byte) (*Verification, error) {
	sig, err := readPDF(data)
	if err != nil {
		return nil, err
	}
	v := &Verification{Form: PDF, LicenceID: sig.id, AnnotationID: sig.annotation}
	bad := func(reason, format string, args ...any) (*Verification, error) {
		v.Reasons = appendOnce(v.Reasons, reason)
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		return v, nil
	}
	if sig.byteRange == nil {
		return bad(ReasonSealInvalid, "the PDF carries no signature")
	}
	size := int64(len(data))
	br := sig.byteRange
	if br[0] != 0 || br[1] < 0 || br[3] < 0 || br[1] > br[2] || br[2]+br[3] > size {
		return bad(ReasonSealInvalid, "the signature's ByteRange %v does not fit the file", br)
	}
	if br[2]+br[3] != size {
		bad(ReasonNotWholeFile, "%d bytes after the signed part are not covered by the signature", size-br[2]-br[3])
	}
	gap := data[br[1]:br[2]]
	if !hexGap(gap) {
		return bad(ReasonNotWholeFile, "the gap the signature leaves holds more than its own value")
	}
	// The value is zero-padded to the gap's size; the DER parser reads
	// what it needs and ignores the padding.
	value := gap[1 : len(gap)-1]
	if len(value)%2 == 1 {
		value = append(bytes.Clone(value), '0')
	}
	der, err := hex.DecodeString(string(value))
	if err != nil {
		return bad(ReasonSealInvalid, "the signature value is not hex")
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return bad(ReasonSealInvalid, "the signature is not a PKCS#7 signature: %v", err)
	}
	p7.Content = append(append([]byte(nil), data[:br[1]]...), data[br[2]:br[2]+br[3]]...)
	if err := p7.Verify(); err != nil {
		var mm *pkcs7.MessageDigestMismatchError
		if errors.As(err, &mm) {
			return bad(ReasonDigestMismatch, "the signed bytes were changed (digest mismatch)")
		}
		return bad(ReasonSealInvalid, "the signature does not verify: %v", err)
	}
	leaf := p7.GetOnlySigner()
	if leaf == nil {
		return bad(ReasonSealInvalid, "the signature has not exactly one signer")
	}
	roots, err := m.trustedRoots(ctx)
	if err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	at := m.Certs.Now()
	var signed time.Time
	if p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signed) == nil && !signed.IsZero() {
		at = signed
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return bad(ReasonUntrustedSigner, "the signer %q does not chain to a seal root this hub trusts", leaf.Subject.CommonName)
	}
	v.signer = leaf.Raw
	return v, nil
}

// hexGap reports whether the bytes a ByteRange leaves out are exactly one
// hex string: the signature value, and nothing a forger could slip in.
func hexGap(b []byte) bool {
	if len(b) < 2 || b[0] != '<' || b[len(b)-1] != '>' {
		return false
	}
	for _, c := range b[1 : len(b)-1] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// trustedRoots is the hub's seal roots crypto/x509 can read (its P-256
// roots and imported ones; SM2 roots are for OFD seals).
func (m *Maker) trustedRoots(ctx context.Context) (*x509.CertPool, error) {
	raw, err := m.Certs.Keys.TrustedRootsPEM(ctx)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			pool.AddCert(c)
		}
	}
	return pool, nil
}
