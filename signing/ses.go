package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
)

// GB/T 38540-2020 electronic seals (电子印章), version 4: the seal a seal
// maker issues (SESeal) and the electronic signature made with it
// (SES_Signature). The ASN.1 is written with encoding/asn1; docs/seals.md
// describes the structure and how to check one with OpenSSL.
//
// Every signature is SM2 over SM3(Z‖M), Z computed for the default user ID
// 1234567812345678 (GM/T 0009), the signature a DER SEQUENCE{r, s} in a
// BIT STRING.

// SESVersion is the version of GB/T 38540-2020 structures (SES_Header,
// TBS_Sign).
const SESVersion = 4

// SESVendor is the vendor ID (vid) certhub writes in SES_Header.
const SESVendor = "certhub"

// SESSealTypeOfficial is the seal type certhub writes for an authority's
// seal when none is given.
const SESSealTypeOfficial = 1

// SESSignatureAlgorithm is SM2 with SM3 (1.2.156.10197.1.501), the only
// algorithm certhub writes and accepts in signAlgID and signatureAlgID.
var SESSignatureAlgorithm = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}

const (
	sesHeaderID      = "ES"
	sesCertListCerts = 1 // certListType: the certList holds the certificates themselves
	sesPictureType   = "PNG"
	sesMaxPicture    = 1 << 20
	sesClockSkew     = 5 * time.Minute
)

// SESHeader is SES_Header.
type SESHeader struct {
	ID      string `asn1:"ia5"` // "ES"
	Version int    // 4
	VID     string `asn1:"ia5"` // vendor
}

// SESPropertyInfo is SES_ESPropertyInfo with certListType 1: certList holds
// the DER certificates of the signers allowed to use the seal.
type SESPropertyInfo struct {
	Type         int
	Name         string `asn1:"utf8"`
	CertListType int
	CertList     [][]byte
	CreateDate   time.Time `asn1:"generalized"`
	ValidStart   time.Time `asn1:"generalized"`
	ValidEnd     time.Time `asn1:"generalized"`
}

// SESPictureInfo is SES_ESPictrueInfo (the standard's spelling): the seal
// image and its display size in millimetres.
type SESPictureInfo struct {
	Type   string `asn1:"ia5"` // "PNG"
	Data   []byte
	Width  int
	Height int
}

// SESExtData is one element of ExtensionDatas.
type SESExtData struct {
	ExtnID    asn1.ObjectIdentifier
	Critical  bool `asn1:"optional"` // DEFAULT FALSE
	ExtnValue []byte
}

// SESSealInfo is SES_SealInfo, what the seal maker signs. Raw holds the
// bytes as read, so a seal made elsewhere is verified and embedded exactly
// as its maker encoded it; it is empty when building one.
type SESSealInfo struct {
	Raw      asn1.RawContent
	Header   SESHeader
	ESID     string `asn1:"ia5"`
	Property SESPropertyInfo
	Picture  SESPictureInfo
	ExtDatas []SESExtData `asn1:"optional"`
}

// SESeal is the electronic seal: the seal info, the maker's certificate and
// the maker's signature over DER(SES_SealInfo).
type SESeal struct {
	Raw         asn1.RawContent
	SealInfo    SESSealInfo
	Cert        []byte // seal maker's X.509 certificate, DER
	SignAlgID   asn1.ObjectIdentifier
	SignedValue asn1.BitString
}

// TBSSign is TBS_Sign, what the signer signs.
type TBSSign struct {
	Raw          asn1.RawContent
	Version      int
	ESeal        SESeal
	TimeInfo     time.Time `asn1:"generalized"`
	DataHash     asn1.BitString
	PropertyInfo string       `asn1:"ia5"`
	ExtDatas     []SESExtData `asn1:"explicit,optional,tag:0"`
}

// SESSignature is SES_Signature.
type SESSignature struct {
	ToSign         TBSSign
	Cert           []byte // signer's X.509 certificate, DER
	SignatureAlgID asn1.ObjectIdentifier
	Signature      asn1.BitString
	TimeStamp      asn1.BitString `asn1:"explicit,optional,tag:0"`
}

// SealSpec describes a seal to make.
type SealSpec struct {
	ESID        string    // the seal's unique identifier (ASCII)
	Name        string    // the seal's name, e.g. the authority's name
	Type        int       // seal type code; 0 means SESSealTypeOfficial
	SignerCerts [][]byte  // DER certificates of the signers who may use the seal
	Created     time.Time // when the seal was made
	ValidStart  time.Time
	ValidEnd    time.Time
	PNG         []byte // the seal image, at most 1 MiB
	WidthMM     int    // display size of the image
	HeightMM    int
}

// MakeSeal makes a GB/T 38540 SESeal: maker, the seal maker's key, signs
// DER(SES_SealInfo); makerCertDER is its SM2 certificate. It returns the DER
// SESeal.
//
// maker must be an SM2 crypto.Signer that honours sm2.DefaultSM2SignerOpts:
// given those options, Sign receives the message itself and returns the
// DER signature over SM3(Z‖message) for user ID 1234567812345678, as
// *sm2.PrivateKey does. An HSM or KMS signer must do the same; one that
// signs without Z is detected and refused.
func MakeSeal(maker crypto.Signer, makerCertDER []byte, spec SealSpec) ([]byte, error) {
	var problems errs.List
	if err := sesCertMatches(maker, makerCertDER); err != nil {
		problems.Add("makerCert", "%s", err)
	}
	if spec.ESID == "" || !sesIA5(spec.ESID) {
		problems.Add("esID", "must be non-empty printable ASCII")
	}
	if spec.Name == "" || !utf8.ValidString(spec.Name) {
		problems.Add("name", "must be non-empty UTF-8")
	}
	if spec.Type < 0 {
		problems.Add("type", "must not be negative")
	}
	if len(spec.SignerCerts) == 0 {
		problems.Add("signerCerts", "at least one signer certificate is required")
	}
	for i, c := range spec.SignerCerts {
		if _, err := smx509.ParseCertificate(c); err != nil {
			problems.Add(fmt.Sprintf("signerCerts[%d]", i), "not an X.509 certificate: %v", err)
		}
	}
	if spec.Created.IsZero() || spec.ValidStart.IsZero() || spec.ValidEnd.IsZero() {
		problems.Add("validity", "created, validStart and validEnd are required")
	} else if !spec.ValidEnd.After(spec.ValidStart) {
		problems.Add("validEnd", "must be after validStart")
	}
	if !bytes.HasPrefix(spec.PNG, []byte("\x89PNG\r\n\x1a\n")) {
		problems.Add("png", "not a PNG image")
	} else if len(spec.PNG) > sesMaxPicture {
		problems.Add("png", "over %d bytes", sesMaxPicture)
	}
	if spec.WidthMM <= 0 || spec.HeightMM <= 0 {
		problems.Add("size", "width and height in millimetres must be positive")
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	typ := spec.Type
	if typ == 0 {
		typ = SESSealTypeOfficial
	}
	info := SESSealInfo{
		Header: SESHeader{ID: sesHeaderID, Version: SESVersion, VID: SESVendor},
		ESID:   spec.ESID,
		Property: SESPropertyInfo{
			Type: typ, Name: spec.Name, CertListType: sesCertListCerts, CertList: spec.SignerCerts,
			CreateDate: sesTime(spec.Created), ValidStart: sesTime(spec.ValidStart), ValidEnd: sesTime(spec.ValidEnd),
		},
		Picture: SESPictureInfo{Type: sesPictureType, Data: spec.PNG, Width: spec.WidthMM, Height: spec.HeightMM},
	}
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, errs.Wrap(err, "encode SES_SealInfo")
	}
	sig, err := sesSign(maker, infoDER)
	if err != nil {
		return nil, err
	}
	info.Raw = infoDER
	out, err := asn1.Marshal(SESeal{SealInfo: info, Cert: makerCertDER, SignAlgID: SESSignatureAlgorithm, SignedValue: sesBits(sig)})
	if err != nil {
		return nil, errs.Wrap(err, "encode SESeal")
	}
	return out, nil
}

// SignSES signs data with a seal: it returns the DER SES_Signature whose
// TBS_Sign holds the seal (sealDER, as MakeSeal returns it), the signing
// time at, dataHash = SM3(data) and propertyInfo (ASCII; in an OFD the path
// of the signed file), signed by signer with SM2/SM3 (1.2.156.10197.1.501).
// signerCertDER must be one of the seal's certList and hold signer's public
// key; at must lie in the seal's validity window; the seal's own signature
// must verify.
//
// signer must be an SM2 crypto.Signer honouring sm2.DefaultSM2SignerOpts,
// as for MakeSeal.
func SignSES(signer crypto.Signer, signerCertDER, sealDER, data []byte, at time.Time, propertyInfo string) ([]byte, error) {
	var seal SESeal
	if rest, err := asn1.Unmarshal(sealDER, &seal); err != nil || len(rest) != 0 {
		return nil, errs.Field("seal", "not a DER SESeal")
	}
	if h := seal.SealInfo.Header; h.ID != sesHeaderID || h.Version != SESVersion {
		return nil, errs.Field("seal", "SES_Header is id %q version %d; certhub signs with version %d seals", h.ID, h.Version, SESVersion)
	}
	if pub, _, err := sesCertKey(seal.Cert); err != nil {
		return nil, errs.Field("seal", "seal maker certificate: %s", err)
	} else if !sm2.VerifyASN1WithSM2(pub, nil, seal.SealInfo.Raw, seal.SignedValue.Bytes) {
		return nil, errs.Field("seal", "the seal maker's signature: %s", sesDiagnose(pub, seal.SealInfo.Raw, seal.SignedValue.Bytes))
	}
	var problems errs.List
	if err := sesCertMatches(signer, signerCertDER); err != nil {
		problems.Add("signerCert", "%s", err)
	} else if !sesInCertList(seal.SealInfo.Property, signerCertDER) {
		problems.Add("signerCert", "not in the seal's certList: the seal does not authorise this signer")
	}
	p := seal.SealInfo.Property
	if at.Before(p.ValidStart) || at.After(p.ValidEnd) {
		problems.Add("at", "%s is outside the seal's validity %s – %s", sesTime(at).Format(time.RFC3339),
			p.ValidStart.Format(time.RFC3339), p.ValidEnd.Format(time.RFC3339))
	}
	if !sesIA5(propertyInfo) {
		problems.Add("propertyInfo", "must be printable ASCII (IA5String)")
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	seal.Raw = sealDER
	digest := sm3.Sum(data)
	tbs := TBSSign{Version: SESVersion, ESeal: seal, TimeInfo: sesTime(at), DataHash: sesBits(digest[:]), PropertyInfo: propertyInfo}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return nil, errs.Wrap(err, "encode TBS_Sign")
	}
	sig, err := sesSign(signer, tbsDER)
	if err != nil {
		return nil, err
	}
	tbs.Raw = tbsDER
	out, err := asn1.Marshal(SESSignature{ToSign: tbs, Cert: signerCertDER, SignatureAlgID: SESSignatureAlgorithm, Signature: sesBits(sig)})
	if err != nil {
		return nil, errs.Wrap(err, "encode SES_Signature")
	}
	return out, nil
}

// sesSign signs msg with SM2 over SM3(Z‖msg) and checks the result, so a
// signer that ignores the SM2 options (and signs without Z) is caught here
// instead of by an office's verifier.
func sesSign(s crypto.Signer, msg []byte) ([]byte, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, errs.E(errs.Invalid, "an SM2 key is required")
	}
	sig, err := s.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, errs.Wrap(err, "SM2 sign")
	}
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		return nil, errs.E(errs.Internal, "the signer did not make a standard SM2 signature: %s", sesDiagnose(pub, msg, sig))
	}
	return sig, nil
}

// sesDiagnose says why sig is not a valid SM2 signature of msg by pub.
func sesDiagnose(pub *ecdsa.PublicKey, msg, sig []byte) string {
	var rs struct{ R, S asn1.RawValue }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
		return "the signature is not a DER SEQUENCE{r, s}"
	}
	digest := sm3.Sum(msg)
	if sm2.VerifyASN1(pub, digest[:], sig) {
		return "the SM2 signature is over SM3(message) without the Z value; GB/T 38540 requires SM3(Z‖message), Z for user ID " + SM2UserID
	}
	return "the signature does not verify with this public key: the signed bytes or the signature were altered, or another key signed"
}

// sesCertMatches checks that certDER is an SM2 certificate of s's key.
func sesCertMatches(s crypto.Signer, certDER []byte) error {
	cert, err := smx509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("not an X.509 certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return errors.New("not an SM2 certificate")
	}
	if s == nil || !pub.Equal(s.Public()) {
		return errors.New("its public key is not the signing key's")
	}
	return nil
}

func sesInCertList(p SESPropertyInfo, certDER []byte) bool {
	for _, c := range p.CertList {
		if bytes.Equal(c, certDER) {
			return true
		}
	}
	return false
}

// sesTime is t as GeneralizedTime carries it: UTC, whole seconds.
func sesTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func sesBits(b []byte) asn1.BitString { return asn1.BitString{Bytes: b, BitLength: 8 * len(b)} }

// sesIA5 reports whether s is printable ASCII, what certhub writes in
// IA5String fields.
func sesIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
