package signing

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sestest"
	"github.com/certhub/certhub/internal/testenv"
)

// sesFixture is a seal maker, two signers (one in the seal's certList, one
// not), a seal and a signature over data.
type sesFixture struct {
	now            time.Time
	root           *sestest.Party
	maker, signer  *sestest.Party
	outsider       *sestest.Party
	seal, ses      []byte
	data           []byte
	start, end, at time.Time
}

func newSESFixture(t *testing.T) *sesFixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	f := &sesFixture{now: now, start: now.AddDate(0, -1, 0), end: now.AddDate(1, 0, 0), at: now.Add(-time.Hour)}
	f.root = sestest.NewRoot(t, "certhub test seal CA", now)
	f.maker = f.root.Issue(t, "seal maker", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0))
	f.signer = f.root.Issue(t, "某某市市场监督管理局", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0))
	f.outsider = f.root.Issue(t, "another authority", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0))
	seal, err := MakeSeal(f.maker.Key, f.maker.Cert, SealSpec{
		ESID: "91110000000000000X-0001", Name: "某某市市场监督管理局", SignerCerts: [][]byte{f.signer.Cert},
		Created: f.start, ValidStart: f.start, ValidEnd: f.end, PNG: sestest.PNG(t), WidthMM: 40, HeightMM: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.seal = seal
	f.data = []byte("<Signature>licence 1</Signature>")
	f.ses, err = SignSES(f.signer.Key, f.signer.Cert, seal, f.data, f.at, "/Doc_0/Signs/Sign_0/Signature.xml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sesResign decodes a SES_Signature, changes it and signs its TBS_Sign again
// with key, the standard way unless sign says otherwise.
func sesResign(t *testing.T, ses []byte, key *sm2.PrivateKey, change func(*SESSignature), sign func(msg []byte) []byte) []byte {
	t.Helper()
	var s SESSignature
	if _, err := asn1.Unmarshal(ses, &s); err != nil {
		t.Fatal(err)
	}
	change(&s)
	s.ToSign.Raw = nil
	tbs, err := asn1.Marshal(s.ToSign)
	if err != nil {
		t.Fatal(err)
	}
	if sign == nil {
		sign = func(msg []byte) []byte {
			sig, err := key.Sign(rand.Reader, msg, sm2.DefaultSM2SignerOpts)
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
	}
	s.ToSign.Raw, s.Signature = tbs, sesBits(sign(tbs))
	out, err := asn1.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sesWithoutZ signs SM3(msg) with no Z value: what gmsm does when a generic
// library hands it nil or a crypto.Hash as options.
func sesWithoutZ(t *testing.T, key *sm2.PrivateKey) func([]byte) []byte {
	return func(msg []byte) []byte {
		digest := sm3.Sum(msg)
		sig, err := key.Sign(rand.Reader, digest[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func TestSESRoundTrip(t *testing.T) {
	t.Parallel()
	f := newSESFixture(t)
	r, err := VerifySES(f.ses, f.data, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid || len(r.Checks) != 8 {
		t.Fatalf("want 8 passing checks, got %+v", r.Checks)
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("%s failed: %s", c.Name, c.Reason)
		}
	}
	digest := sm3.Sum(f.data)
	if r.ESID != "91110000000000000X-0001" || r.SealName != "某某市市场监督管理局" || !r.SignedAt.Equal(f.at) ||
		!bytes.Equal(r.DataHash, digest[:]) || r.PropertyInfo != "/Doc_0/Signs/Sign_0/Signature.xml" ||
		!strings.Contains(r.Signer, "某某市市场监督管理局") || !strings.Contains(r.Maker, "seal maker") {
		t.Errorf("report fields: esID %q name %q signed %v property %q signer %q maker %q", r.ESID, r.SealName, r.SignedAt, r.PropertyInfo, r.Signer, r.Maker)
	}
	if !bytes.Equal(r.SignerCert, f.signer.Cert) || !bytes.Equal(r.MakerCert, f.maker.Cert) {
		t.Error("report does not carry the certificates")
	}
	// The seal is embedded byte for byte.
	if !bytes.Contains(f.ses, f.seal) {
		t.Error("the SESeal is not embedded as made")
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

func TestSESVerifyReasons(t *testing.T) {
	t.Parallel()
	f := newSESFixture(t)
	for _, tc := range []struct {
		name  string
		ses   func() []byte
		data  []byte
		check string
		want  string
	}{
		{"other data", func() []byte { return f.ses }, []byte("other"), SESCheckDataHash, "not SM3 of the data"},
		{"altered TBS_Sign", func() []byte {
			b := bytes.Clone(f.ses)
			i := bytes.Index(b, []byte("/Doc_0/Signs"))
			b[i+1] = 'X'
			return b
		}, f.data, SESCheckSignature, "signed bytes or the signature were altered"},
		{"signature without Z", func() []byte {
			return sesResign(t, f.ses, f.signer.Key, func(*SESSignature) {}, sesWithoutZ(t, f.signer.Key))
		}, f.data, SESCheckSignature, "without the Z value"},
		{"seal signed without Z", func() []byte {
			return sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) {
				seal := &s.ToSign.ESeal
				seal.Raw = nil
				seal.SignedValue = sesBits(sesWithoutZ(t, f.maker.Key)(seal.SealInfo.Raw))
			}, nil)
		}, f.data, SESCheckSealSignature, "without the Z value"},
		{"seal info altered", func() []byte {
			return sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) {
				seal := &s.ToSign.ESeal
				seal.Raw, seal.SealInfo.Raw = nil, nil
				seal.SealInfo.Property.ValidEnd = seal.SealInfo.Property.ValidEnd.AddDate(10, 0, 0)
			}, nil)
		}, f.data, SESCheckSealSignature, "altered"},
		{"signer not in certList", func() []byte {
			return sesResign(t, f.ses, f.outsider.Key, func(s *SESSignature) { s.Cert = f.outsider.Cert }, nil)
		}, f.data, SESCheckSignerInSeal, "not in the seal's certList"},
		{"signed before the seal's validity", func() []byte {
			return sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) { s.ToSign.TimeInfo = f.start.Add(-time.Hour) }, nil)
		}, f.data, SESCheckSealValidity, "outside the seal's validity"},
		{"signer certificate expired at signing", func() []byte {
			old := f.root.Issue(t, "某某市市场监督管理局", f.now.AddDate(-2, 0, 0), f.now.AddDate(0, 0, -2))
			return sesResign(t, f.ses, old.Key, func(s *SESSignature) { s.Cert = old.Cert }, nil)
		}, f.data, SESCheckSignerCert, "not valid at the signing time"},
		{"signed in the future", func() []byte {
			return sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) { s.ToSign.TimeInfo = f.now.Add(time.Hour) }, nil)
		}, f.data, SESCheckSigningTime, "after now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := VerifySES(tc.ses(), tc.data, f.now)
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid {
				t.Fatal("accepted")
			}
			c := r.Check(tc.check)
			if c == nil || c.OK || !strings.Contains(c.Reason, tc.want) {
				t.Fatalf("check %s: want failure with %q, got %+v", tc.check, tc.want, c)
			}
			for _, other := range r.Checks {
				if other.Name != tc.check && !other.OK && tc.check != SESCheckSignerCert {
					t.Errorf("%s also failed: %s", other.Name, other.Reason)
				}
			}
		})
	}
}

func TestSESStructureRefused(t *testing.T) {
	t.Parallel()
	f := newSESFixture(t)
	for _, tc := range []struct {
		name string
		der  []byte
		want string
	}{
		{"not DER", []byte("hello"), "not a DER SES_Signature"},
		{"trailing bytes", append(bytes.Clone(f.ses), 0), "bytes after"},
		{"a bare SESeal", f.seal, "not a DER SES_Signature"},
		{"version 1", sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) { s.ToSign.Version = 1 }, nil), "version 1"},
		{"ECDSA algorithm", sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) {
			s.SignatureAlgID = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		}, nil), "signatureAlgID 1.2.840.10045.4.3.2"},
		{"short dataHash", sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) { s.ToSign.DataHash = sesBits([]byte{1, 2}) }, nil), "16 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := VerifySES(tc.der, f.data, f.now)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want invalid %q, got %v", tc.want, err)
			}
			if r == nil || r.Valid || len(r.Checks) != 1 || r.Checks[0].Name != SESCheckStructure || r.Checks[0].OK {
				t.Fatalf("report: %+v", r)
			}
		})
	}
}

// sesZless is an SM2 signer that ignores the options and signs without Z,
// like an HSM adapter that treats every input as a finished digest.
type sesZless struct{ *sm2.PrivateKey }

func (s sesZless) Sign(r io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	d := sm3.Sum(msg)
	return s.PrivateKey.Sign(r, d[:], nil)
}

func TestSESBadInputRefused(t *testing.T) {
	t.Parallel()
	f := newSESFixture(t)
	spec := func(change func(*SealSpec)) SealSpec {
		s := SealSpec{ESID: "E1", Name: "seal", SignerCerts: [][]byte{f.signer.Cert}, Created: f.start,
			ValidStart: f.start, ValidEnd: f.end, PNG: sestest.PNG(t), WidthMM: 40, HeightMM: 40}
		change(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"picture not PNG", func() error {
			_, err := MakeSeal(f.maker.Key, f.maker.Cert, spec(func(s *SealSpec) { s.PNG = []byte("GIF89a") }))
			return err
		}, "png: not a PNG image"},
		{"picture over 1 MiB", func() error {
			_, err := MakeSeal(f.maker.Key, f.maker.Cert, spec(func(s *SealSpec) { s.PNG = append(sestest.PNG(t), make([]byte, 1<<20)...) }))
			return err
		}, "png: over"},
		{"maker certificate of another key", func() error {
			_, err := MakeSeal(f.maker.Key, f.signer.Cert, spec(func(*SealSpec) {}))
			return err
		}, "makerCert: its public key is not the signing key's"},
		{"esID not ASCII", func() error {
			_, err := MakeSeal(f.maker.Key, f.maker.Cert, spec(func(s *SealSpec) { s.ESID = "印章1" }))
			return err
		}, "esID"},
		{"validity reversed", func() error {
			_, err := MakeSeal(f.maker.Key, f.maker.Cert, spec(func(s *SealSpec) { s.ValidEnd = s.ValidStart.Add(-time.Second) }))
			return err
		}, "validEnd: must be after validStart"},
		{"maker signs without Z", func() error {
			_, err := MakeSeal(sesZless{f.maker.Key}, f.maker.Cert, spec(func(*SealSpec) {}))
			return err
		}, "without the Z value"},
		{"signer not in certList", func() error {
			_, err := SignSES(f.outsider.Key, f.outsider.Cert, f.seal, f.data, f.at, "p")
			return err
		}, "signerCert: not in the seal's certList"},
		{"signing outside the seal's validity", func() error {
			_, err := SignSES(f.signer.Key, f.signer.Cert, f.seal, f.data, f.end.Add(time.Hour), "p")
			return err
		}, "at: "},
		{"propertyInfo not IA5", func() error {
			_, err := SignSES(f.signer.Key, f.signer.Cert, f.seal, f.data, f.at, "签名.xml")
			return err
		}, "propertyInfo"},
		{"seal not DER", func() error {
			_, err := SignSES(f.signer.Key, f.signer.Cert, []byte("x"), f.data, f.at, "p")
			return err
		}, "seal: not a DER SESeal"},
		{"seal signed without Z", func() error {
			var seal SESeal
			if _, err := asn1.Unmarshal(f.seal, &seal); err != nil {
				t.Fatal(err)
			}
			seal.Raw, seal.SignedValue = nil, sesBits(sesWithoutZ(t, f.maker.Key)(seal.SealInfo.Raw))
			bad, err := asn1.Marshal(seal)
			if err != nil {
				t.Fatal(err)
			}
			_, err = SignSES(f.signer.Key, f.signer.Cert, bad, f.data, f.at, "p")
			return err
		}, "seal: the seal maker's signature: the SM2 signature is over SM3(message) without the Z value"},
		{"signer signs without Z", func() error {
			_, err := SignSES(sesZless{f.signer.Key}, f.signer.Cert, f.seal, f.data, f.at, "p")
			return err
		}, "without the Z value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error with %q, got %v", tc.want, err)
			}
		})
	}
}

// TestSESExtDatasAccepted: a TBS_Sign with extDatas ([0] EXPLICIT), as
// other vendors write, parses and verifies, and OpenSSL sees the tag.
func TestSESExtDatasAccepted(t *testing.T) {
	t.Parallel()
	f := newSESFixture(t)
	ses := sesResign(t, f.ses, f.signer.Key, func(s *SESSignature) {
		s.ToSign.ExtDatas = []SESExtData{{ExtnID: asn1.ObjectIdentifier{1, 2, 3, 4}, ExtnValue: []byte("v")}}
	}, nil)
	r, err := VerifySES(ses, f.data, f.now)
	if err != nil || !r.Valid {
		t.Fatalf("%v %+v", err, r.Checks)
	}
	var s SESSignature
	if _, err := asn1.Unmarshal(ses, &s); err != nil || len(s.ToSign.ExtDatas) != 1 || string(s.ToSign.ExtDatas[0].ExtnValue) != "v" {
		t.Fatalf("extDatas not read back: %v %+v", err, s.ToSign.ExtDatas)
	}
	openssl := testenv.Tool(t, "openssl", "Debian package openssl")
	path := filepath.Join(t.TempDir(), "ses.der")
	if err := os.WriteFile(path, ses, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "asn1parse", "-inform", "DER", "-in", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cont [ 0 ]") {
		t.Fatalf("asn1parse: %v\n%s", err, out)
	}
}
