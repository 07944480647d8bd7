package signing

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
)

// The checks of a SESReport, in the order VerifySES runs them.
const (
	SESCheckStructure     = "structure"      // DER SES_Signature version 4, SM2/SM3 algorithm IDs
	SESCheckDataHash      = "data-hash"      // dataHash = SM3(data)
	SESCheckSignerCert    = "signer-cert"    // the signer's SM2 certificate, valid at the signing time
	SESCheckSignature     = "signature"      // SM2 signature over DER(TBS_Sign) by the signer's certificate
	SESCheckSealSignature = "seal-signature" // the maker's SM2 signature over DER(SES_SealInfo)
	SESCheckSealValidity  = "seal-validity"  // the signing time lies in the seal's validity window
	SESCheckSignerInSeal  = "signer-in-seal" // the signer's certificate is in the seal's certList
	SESCheckSigningTime   = "signing-time"   // the signing time is not in the future
)

// SESCheck is the outcome of one check. Reason says why it failed, or what
// was checked when it passed.
type SESCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// SESReport is what VerifySES found. Valid is true only when every check
// passed. The certificates are returned so that a caller can decide whether
// it trusts the maker and the signer (VerifySES checks the signatures they
// make, not who issued them).
type SESReport struct {
	Valid        bool       `json:"valid"`
	ESID         string     `json:"esID,omitempty"`
	SealName     string     `json:"sealName,omitempty"`
	SealStart    time.Time  `json:"sealValidStart,omitzero"`
	SealEnd      time.Time  `json:"sealValidEnd,omitzero"`
	SignedAt     time.Time  `json:"signedAt,omitzero"`
	PropertyInfo string     `json:"propertyInfo,omitempty"`
	DataHash     []byte     `json:"dataHash,omitempty"`
	Signer       string     `json:"signer,omitempty"` // subject of the signer's certificate
	Maker        string     `json:"maker,omitempty"`  // subject of the seal maker's certificate
	SignerCert   []byte     `json:"-"`
	MakerCert    []byte     `json:"-"`
	Checks       []SESCheck `json:"checks"`
}

func (r *SESReport) add(name string, ok bool, format string, args ...any) {
	r.Checks = append(r.Checks, SESCheck{Name: name, OK: ok, Reason: fmt.Sprintf(format, args...)})
}

// Check returns the named check, or nil if it did not run.
func (r *SESReport) Check(name string) *SESCheck {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// VerifySES checks a DER SES_Signature over data: its structure (version 4,
// SM2/SM3), dataHash = SM3(data), the signer's SM2 signature over
// DER(TBS_Sign) with the key of the certificate it carries (valid at the
// signing time), the seal maker's signature over DER(SES_SealInfo), the
// seal's validity at the signing time, the signer being in the seal's
// certList, and the signing time not being after now. Signatures made
// without the Z value fail with a reason that says so.
//
// The report is always returned. The error is an errs.Invalid (field
// "signature") when sesDER is not a well-formed SES_Signature version 4, in
// which case the structure check is the report's only check; a structure
// whose other checks fail gives a report with Valid false and no error.
func VerifySES(sesDER, data []byte, now time.Time) (*SESReport, error) {
	r := &SESReport{Checks: []SESCheck{}}
	s, err := parseSES(sesDER)
	if err != nil {
		r.add(SESCheckStructure, false, "%s", err)
		return r, errs.Field("signature", "%s", err)
	}
	tbs, seal := &s.ToSign, &s.ToSign.ESeal
	info, prop := &seal.SealInfo, &seal.SealInfo.Property
	r.ESID, r.SealName = info.ESID, prop.Name
	r.SealStart, r.SealEnd, r.SignedAt = prop.ValidStart, prop.ValidEnd, tbs.TimeInfo
	r.PropertyInfo, r.DataHash = tbs.PropertyInfo, tbs.DataHash.Bytes
	r.SignerCert, r.MakerCert = s.Cert, seal.Cert
	r.add(SESCheckStructure, true, "SES_Signature version %d, SM2 with SM3 (%s)", SESVersion, SESSignatureAlgorithm)

	digest := sm3.Sum(data)
	if bytes.Equal(tbs.DataHash.Bytes, digest[:]) {
		r.add(SESCheckDataHash, true, "dataHash is SM3 of the data (%x)", digest)
	} else {
		r.add(SESCheckDataHash, false, "dataHash %x is not SM3 of the data (%x): the data is not what was signed", tbs.DataHash.Bytes, digest)
	}

	signerPub, signer, err := sesCertKey(s.Cert)
	switch {
	case err != nil:
		r.add(SESCheckSignerCert, false, "signer certificate: %s", err)
	case tbs.TimeInfo.Before(signer.NotBefore) || tbs.TimeInfo.After(signer.NotAfter):
		r.add(SESCheckSignerCert, false, "the signer certificate was not valid at the signing time %s (valid %s – %s)",
			sesStamp(tbs.TimeInfo), sesStamp(signer.NotBefore), sesStamp(signer.NotAfter))
	default:
		r.add(SESCheckSignerCert, true, "SM2 certificate of %s, valid at the signing time", signer.Subject)
	}
	if signer != nil {
		r.Signer = signer.Subject.String()
	}
	if signerPub == nil {
		r.add(SESCheckSignature, false, "not checked: the signer certificate has no usable SM2 key")
	} else if sm2.VerifyASN1WithSM2(signerPub, nil, tbs.Raw, s.Signature.Bytes) {
		r.add(SESCheckSignature, true, "SM2 signature over SM3(Z‖TBS_Sign) verifies with the signer certificate's key")
	} else {
		r.add(SESCheckSignature, false, "signature over TBS_Sign: %s", sesDiagnose(signerPub, tbs.Raw, s.Signature.Bytes))
	}

	makerPub, maker, err := sesCertKey(seal.Cert)
	if maker != nil {
		r.Maker = maker.Subject.String()
	}
	switch {
	case err != nil:
		r.add(SESCheckSealSignature, false, "seal maker certificate: %s", err)
	case sm2.VerifyASN1WithSM2(makerPub, nil, info.Raw, seal.SignedValue.Bytes):
		r.add(SESCheckSealSignature, true, "the seal maker's SM2 signature over SES_SealInfo verifies (maker %s)", maker.Subject)
	default:
		r.add(SESCheckSealSignature, false, "the seal maker's signature over SES_SealInfo: %s", sesDiagnose(makerPub, info.Raw, seal.SignedValue.Bytes))
	}

	if tbs.TimeInfo.Before(prop.ValidStart) || tbs.TimeInfo.After(prop.ValidEnd) {
		r.add(SESCheckSealValidity, false, "signed at %s, outside the seal's validity %s – %s",
			sesStamp(tbs.TimeInfo), sesStamp(prop.ValidStart), sesStamp(prop.ValidEnd))
	} else {
		r.add(SESCheckSealValidity, true, "signed at %s, within the seal's validity %s – %s",
			sesStamp(tbs.TimeInfo), sesStamp(prop.ValidStart), sesStamp(prop.ValidEnd))
	}

	if sesInCertList(*prop, s.Cert) {
		r.add(SESCheckSignerInSeal, true, "the signer certificate is in the seal's certList")
	} else {
		r.add(SESCheckSignerInSeal, false, "the signer certificate is not in the seal's certList (%d certificates): the seal does not authorise this signer", len(prop.CertList))
	}

	if tbs.TimeInfo.After(now.Add(sesClockSkew)) {
		r.add(SESCheckSigningTime, false, "the signing time %s is after now (%s)", sesStamp(tbs.TimeInfo), sesStamp(now))
	} else {
		r.add(SESCheckSigningTime, true, "signed at %s", sesStamp(tbs.TimeInfo))
	}

	r.Valid = true
	for _, c := range r.Checks {
		r.Valid = r.Valid && c.OK
	}
	return r, nil
}

// parseSES decodes a SES_Signature and checks what certhub can verify:
// version 4 everywhere, SM2 with SM3, certificates listed as themselves, a
// 256-bit dataHash, and no bytes after the structure.
func parseSES(der []byte) (*SESSignature, error) {
	var s SESSignature
	rest, err := asn1.Unmarshal(der, &s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a DER SES_Signature (GB/T 38540-2020): %v", err)
	case len(rest) != 0:
		return nil, fmt.Errorf("%d bytes after the SES_Signature", len(rest))
	}
	tbs, seal := &s.ToSign, &s.ToSign.ESeal
	h := seal.SealInfo.Header
	switch {
	case tbs.Version != SESVersion:
		return nil, fmt.Errorf("TBS_Sign version %d; certhub verifies version %d (GB/T 38540-2020)", tbs.Version, SESVersion)
	case h.ID != sesHeaderID || h.Version != SESVersion:
		return nil, fmt.Errorf("SES_Header is id %q version %d; want %q version %d", h.ID, h.Version, sesHeaderID, SESVersion)
	case !s.SignatureAlgID.Equal(SESSignatureAlgorithm):
		return nil, fmt.Errorf("signatureAlgID %s; want SM2 with SM3 (%s)", s.SignatureAlgID, SESSignatureAlgorithm)
	case !seal.SignAlgID.Equal(SESSignatureAlgorithm):
		return nil, fmt.Errorf("the seal's signAlgID %s; want SM2 with SM3 (%s)", seal.SignAlgID, SESSignatureAlgorithm)
	case seal.SealInfo.Property.CertListType != sesCertListCerts:
		return nil, fmt.Errorf("certListType %d; certhub verifies certListType %d (certificates)", seal.SealInfo.Property.CertListType, sesCertListCerts)
	case tbs.DataHash.BitLength != 8*sm3.Size:
		return nil, fmt.Errorf("dataHash is %d bits; an SM3 digest is %d", tbs.DataHash.BitLength, 8*sm3.Size)
	case s.Signature.BitLength%8 != 0 || seal.SignedValue.BitLength%8 != 0:
		return nil, fmt.Errorf("a signature BIT STRING has unused bits")
	}
	return &s, nil
}

// sesCertKey parses an SM2 certificate and returns its public key.
func sesCertKey(der []byte) (*ecdsa.PublicKey, *smx509.Certificate, error) {
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("not an X.509 certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, cert, fmt.Errorf("the key of %s is not SM2", cert.Subject)
	}
	return pub, cert, nil
}

func sesStamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
