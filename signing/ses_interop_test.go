package signing

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/certhub/certhub/internal/sestest"
	"github.com/certhub/certhub/internal/testenv"
)

// Independent implementations check what certhub writes: OpenSSL 3 and
// npm sm-crypto. Without them the tests skip locally and fail in CI.

// sesParts takes a SES_Signature apart with nothing but generic DER: the
// TBS_Sign bytes, its signature, the SES_SealInfo bytes, the maker's
// signature, the maker's certificate and dataHash.
type sesParts struct{ tbs, sig, sealInfo, sealSig, makerCert, dataHash []byte }

func sesSplit(t *testing.T, der []byte) sesParts {
	t.Helper()
	kids := func(b []byte) []asn1.RawValue {
		t.Helper()
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(b, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
			t.Fatalf("not one SEQUENCE: %v", err)
		}
		var out []asn1.RawValue
		for b := seq.Bytes; len(b) > 0; {
			var v asn1.RawValue
			var err error
			if b, err = asn1.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	bits := func(v asn1.RawValue) []byte {
		t.Helper()
		if v.Tag != asn1.TagBitString || v.Bytes[0] != 0 {
			t.Fatalf("not a whole-byte BIT STRING: tag %d", v.Tag)
		}
		return v.Bytes[1:]
	}
	ses := kids(der)
	tbs := kids(ses[0].FullBytes)
	seal := kids(tbs[1].FullBytes)
	return sesParts{tbs: ses[0].FullBytes, sig: bits(ses[3]), sealInfo: seal[0].FullBytes, sealSig: bits(seal[3]),
		makerCert: seal[1].Bytes, dataHash: bits(tbs[3])}
}

// TestSESOpenSSL has OpenSSL 3 check what certhub writes: the structure,
// the TBS_Sign signature, the seal maker's signature and the data digest;
// and refuse an altered TBS_Sign and a signature without Z.
func TestSESOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl")
	f := newSESFixture(t)
	p := sesSplit(t, f.ses)

	if out, ok := sestest.OpenSSLVerify(t, f.signer.Cert, p.tbs, p.sig); !ok {
		t.Errorf("OpenSSL refuses the TBS_Sign signature: %s", out)
	}
	if out, ok := sestest.OpenSSLVerify(t, p.makerCert, p.sealInfo, p.sealSig); !ok {
		t.Errorf("OpenSSL refuses the seal maker's signature: %s", out)
	}
	altered := bytes.Clone(p.tbs)
	altered[len(altered)-1] ^= 1
	if out, ok := sestest.OpenSSLVerify(t, f.signer.Cert, altered, p.sig); ok {
		t.Errorf("OpenSSL accepts an altered TBS_Sign: %s", out)
	}
	noZ := sesSplit(t, sesResign(t, f.ses, f.signer.Key, func(*SESSignature) {}, sesWithoutZ(t, f.signer.Key)))
	if out, ok := sestest.OpenSSLVerify(t, f.signer.Cert, noZ.tbs, noZ.sig); ok {
		t.Errorf("OpenSSL accepts a signature without Z: %s", out)
	}

	dir := t.TempDir()
	dataPath, sesPath := filepath.Join(dir, "data"), filepath.Join(dir, "ses.der")
	if err := os.WriteFile(dataPath, f.data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sesPath, f.ses, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "dgst", "-sm3", "-r", dataPath).Output()
	if err != nil {
		t.Fatalf("openssl dgst -sm3: %v", err)
	}
	if got := strings.Fields(string(out))[0]; got != hex.EncodeToString(p.dataHash) {
		t.Errorf("dataHash %x, OpenSSL's SM3 of the data %s", p.dataHash, got)
	}

	out, err = exec.Command(openssl, "asn1parse", "-inform", "DER", "-in", sesPath).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl asn1parse: %v\n%s", err, out)
	}
	parsed := string(out)
	for _, want := range []string{
		"INTEGER           :04",
		"IA5STRING         :ES",
		"IA5STRING         :" + SESVendor,
		"IA5STRING         :91110000000000000X-0001",
		"IA5STRING         :PNG",
		"IA5STRING         :/Doc_0/Signs/Sign_0/Signature.xml",
		"UTF8STRING",
		"GENERALIZEDTIME",
		"BIT STRING",
	} {
		if !strings.Contains(parsed, want) {
			t.Errorf("asn1parse output lacks %q", want)
		}
	}
	// The algorithm OID twice (seal and signature), by number or by
	// OpenSSL's name for it.
	if n := strings.Count(parsed, ":1.2.156.10197.1.501") + strings.Count(parsed, ":SM2-with-SM3"); n != 2 {
		t.Errorf("SM2-with-SM3 appears %d times, want 2:\n%s", n, parsed)
	}
	if strings.Contains(parsed, "Error") || strings.Contains(parsed, "UTCTIME") {
		t.Errorf("asn1parse:\n%s", parsed)
	}
}

const sesSmCryptoJS = `
const { sm2 } = require('sm-crypto');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(c => sm2.doVerifySignature(Array.from(Buffer.from(c.msg, 'hex')), c.sig, c.pub,
  { der: true, hash: true, userId: '1234567812345678' }));
console.log(JSON.stringify(out));
`

// TestSESSmCrypto has npm sm-crypto check the TBS_Sign and seal signatures
// and refuse an altered TBS_Sign and a signature without Z.
func TestSESSmCrypto(t *testing.T) {
	t.Parallel()
	node, dir := testenv.NPM(t, "sm-crypto@0.5.8")
	f := newSESFixture(t)
	p := sesSplit(t, f.ses)
	noZ := sesSplit(t, sesResign(t, f.ses, f.signer.Key, func(*SESSignature) {}, sesWithoutZ(t, f.signer.Key)))
	pubHex := func(k *sm2.PrivateKey) string {
		var b [32]byte
		return "04" + hex.EncodeToString(k.X.FillBytes(b[:])) + hex.EncodeToString(k.Y.FillBytes(b[:]))
	}
	altered := bytes.Clone(p.tbs)
	altered[len(altered)-1] ^= 1
	type vcase struct{ Msg, Sig, Pub string }
	cases := []vcase{
		{hex.EncodeToString(p.tbs), hex.EncodeToString(p.sig), pubHex(f.signer.Key)},
		{hex.EncodeToString(p.sealInfo), hex.EncodeToString(p.sealSig), pubHex(f.maker.Key)},
		{hex.EncodeToString(altered), hex.EncodeToString(p.sig), pubHex(f.signer.Key)},
		{hex.EncodeToString(noZ.tbs), hex.EncodeToString(noZ.sig), pubHex(f.signer.Key)},
	}
	in, _ := json.Marshal(func() []map[string]string {
		var m []map[string]string
		for _, c := range cases {
			m = append(m, map[string]string{"msg": c.Msg, "sig": c.Sig, "pub": c.Pub})
		}
		return m
	}())
	script := filepath.Join(dir, "verify.js")
	if err := os.WriteFile(script, []byte(sesSmCryptoJS), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	want := []bool{true, true, false, false}
	names := []string{"TBS_Sign signature", "seal maker's signature", "altered TBS_Sign", "signature without Z"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sm-crypto on %s: %v, want %v", names[i], got[i], want[i])
		}
	}
}

// TestSESDocsOpenSSLScript runs the OpenSSL script of docs/seals.md on a
// signature, so the documented check stays true: both signatures verify and
// dataHash is OpenSSL's SM3 of the data, which other data is not.
func TestSESDocsOpenSSLScript(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "openssl", "Debian package openssl")
	bash := testenv.Tool(t, "bash", "Debian package bash")
	doc, err := os.ReadFile("../docs/seals.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "<!-- ses-check-script -->\n```sh\n")
	script, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/seals.md has no script after <!-- ses-check-script -->")
	}
	f := newSESFixture(t)
	for _, tc := range []struct {
		name string
		data []byte
		same bool
	}{{"signed data", f.data, true}, {"other data", []byte("other"), false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range map[string][]byte{"SignedValue.dat": f.ses, "Signature.xml": tc.data, "check.sh": []byte(script)} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bash, "check.sh")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("script: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 4 || lines[0] != "Signature Verified Successfully" || lines[1] != "Signature Verified Successfully" {
				t.Fatalf("script output:\n%s", out)
			}
			digest := sm3.Sum(f.data)
			if lines[2] != hex.EncodeToString(digest[:]) || (lines[2] == lines[3]) != tc.same {
				t.Fatalf("dataHash %s, OpenSSL's SM3 of the data %s (want equal: %v)", lines[2], lines[3], tc.same)
			}
		})
	}
}
