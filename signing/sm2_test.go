package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/testenv"
)

// sm2Fixture is an SM2 authority's manager, one document it sealed and the
// private key (opened the way the manager opens it) for making bad ones.
type sm2Fixture struct {
	m    *Manager
	doc  []byte
	key  *Key
	priv *sm2.PrivateKey
	jwk  map[string]string // the key's JWKS entry
}

func newSM2Fixture(t *testing.T) *sm2Fixture {
	t.Helper()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})
	k, err := m.CreateKey(ctx, "AUTH", SM2)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := m.Seal(ctx, "AUTH", []byte(`{"id":"x","credentialSubject":{"name":"张三"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.signer(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := s.(*sm2.PrivateKey)
	if !ok {
		t.Fatalf("local backend opened an SM2 key as %T", s)
	}
	set, err := m.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct{ Keys []map[string]string }
	if err := json.Unmarshal(set, &parsed); err != nil || len(parsed.Keys) != 1 {
		t.Fatalf("JWKS = %s (%v)", set, err)
	}
	return &sm2Fixture{m: m, doc: doc, key: k, priv: priv, jwk: parsed.Keys[0]}
}

// parts splits a compact JWS into its signing input and decoded signature.
func jwsParts(t *testing.T, doc []byte) (signingInput, sig []byte) {
	t.Helper()
	i := bytes.LastIndexByte(doc, '.')
	sig, err := base64.RawURLEncoding.DecodeString(string(doc[i+1:]))
	if err != nil {
		t.Fatal(err)
	}
	return doc[:i], sig
}

func withSignature(signingInput, sig []byte) []byte {
	return []byte(string(signingInput) + "." + base64.RawURLEncoding.EncodeToString(sig))
}

// tampered changes one character of the payload, keeping the signature.
func tampered(doc []byte) []byte {
	parts := strings.Split(string(doc), ".")
	p := []byte(parts[1])
	if p[3] == 'A' {
		p[3] = 'B'
	} else {
		p[3] = 'A'
	}
	parts[1] = string(p)
	return []byte(strings.Join(parts, "."))
}

// signWithoutZ makes the defective signature a generic library makes with
// gmsm: SM3(message) signed as a finished digest (nil options), no Z.
func signWithoutZ(t *testing.T, priv *sm2.PrivateKey, msg []byte) []byte {
	t.Helper()
	digest := sm3.Sum(msg)
	der, err := priv.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sm2DERToRaw(der)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// publicFromJWK rebuilds the public key from the JWKS entry alone.
func publicFromJWK(t *testing.T, j map[string]string) *ecdsa.PublicKey {
	t.Helper()
	x, err1 := base64.RawURLEncoding.DecodeString(j["x"])
	y, err2 := base64.RawURLEncoding.DecodeString(j["y"])
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		t.Fatalf("JWK x/y are not 32-byte base64url: %v", j)
	}
	pub, err := sm2.NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestSM2DocumentProfile(t *testing.T) {
	t.Parallel()
	f := newSM2Fixture(t)

	// The JWKS entry has exactly the profile's members.
	want := []string{"alg", "crv", "kid", "kty", "use", "x", "y"}
	var got []string
	for k := range f.jwk {
		got = append(got, k)
	}
	if len(got) != len(want) || f.jwk["kty"] != "EC" || f.jwk["crv"] != "SM2" || f.jwk["alg"] != "SM2SM3" || f.jwk["use"] != "sig" {
		t.Fatalf("JWKS entry = %v", f.jwk)
	}
	// kid is the RFC 7638 thumbprint, computed here by hand.
	canon := `{"crv":"SM2","kty":"EC","x":"` + f.jwk["x"] + `","y":"` + f.jwk["y"] + `"}`
	sum := sha256.Sum256([]byte(canon))
	if kid := base64.RawURLEncoding.EncodeToString(sum[:]); f.jwk["kid"] != kid || f.key.KID != kid {
		t.Fatalf("kid = %s (key %s), RFC 7638 thumbprint = %s", f.jwk["kid"], f.key.KID, kid)
	}
	if !publicFromJWK(t, f.jwk).Equal(&f.priv.PublicKey) {
		t.Fatal("JWKS x/y are not the seal key's public key")
	}

	// Protected header and signature encoding.
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(f.doc), ".")[0])
	var h map[string]string
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "SM2SM3" || h["kid"] != f.key.KID || h["typ"] != "vc+jwt" || h["cty"] != "vc" || len(h) != 4 {
		t.Fatalf("protected header = %s", hdr)
	}
	input, sig := jwsParts(t, f.doc)
	if len(sig) != 64 {
		t.Fatalf("signature is %d bytes, want raw r‖s (64)", len(sig))
	}
	// gmsm's standard verification (SM3 with Z of the default ID) accepts it.
	der, _ := sm2RawToDER(sig)
	if !sm2.VerifyASN1WithSM2(&f.priv.PublicKey, []byte("1234567812345678"), input, der) {
		t.Fatal("signature is not SM2 over SM3 with Z of the default user ID")
	}
}

func TestSM2VerifyReasons(t *testing.T) {
	t.Parallel()
	f := newSM2Fixture(t)
	ctx := context.Background()
	input, sig := jwsParts(t, f.doc)
	der, _ := sm2RawToDER(sig)
	short := append([]byte(nil), sig[:63]...)
	for _, tc := range []struct {
		name          string
		doc           []byte
		reason, cause string
	}{
		{"good", f.doc, "", ""},
		{"tampered payload", tampered(f.doc), ReasonBadSignature, ""},
		{"DER instead of raw r‖s", withSignature(input, der), ReasonBadSignature, ReasonDERSignature},
		{"signed without Z", withSignature(input, signWithoutZ(t, f.priv, input)), ReasonBadSignature, ReasonSM2WithoutZ},
		{"63 bytes", withSignature(input, short), ReasonBadSignature, ""},
		{"ES256 header on an SM2 key", []byte(strings.Replace(string(f.doc), strings.Split(string(f.doc), ".")[0],
			base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"`+f.key.KID+`"}`)), 1)), ReasonBadSignature, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.m.Verify(ctx, tc.doc)
			if tc.reason == "" {
				if err != nil || v.Algorithm != SM2 || v.KID != f.key.KID {
					t.Fatalf("Verify = %+v, %v", v, err)
				}
				return
			}
			ve, ok := IsVerifyError(err)
			if !ok || ve.Reason != tc.reason || ve.Cause != tc.cause || ve.KID != f.key.KID {
				t.Fatalf("err = %#v, want reason %s cause %q", err, tc.reason, tc.cause)
			}
		})
	}
}

// zlessSigner is a backend's signer that ignores the SM2 options, as an
// HSM adapter written for ECDSA might: it signs without Z.
type zlessSigner struct{ *sm2.PrivateKey }

func (s zlessSigner) Sign(r io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	d := sm3.Sum(msg)
	return s.PrivateKey.Sign(r, d[:], nil)
}

type zlessBackend struct{ Backend }

func (b zlessBackend) Signer(ctx context.Context, k *Key) (crypto.Signer, error) {
	s, err := b.Backend.Signer(ctx, k)
	if err != nil {
		return nil, err
	}
	return zlessSigner{s.(*sm2.PrivateKey)}, nil
}

func TestSM2SignerWithoutZRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m, err := NewManager(&memKeys{}, map[string]Backend{"bad": zlessBackend{NewLocalBackend(master)}}, "bad", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateKey(ctx, "AUTH", SM2); err != nil {
		t.Fatal(err)
	}
	doc, _, err := m.Seal(ctx, "AUTH", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "Z") {
		t.Fatalf("a signer without Z sealed %s (err %v)", doc, err)
	}
}

// TestSM2OpenSSL verifies certhub's SM2 JWS with OpenSSL 3, from the JWKS
// entry alone, and checks that OpenSSL rejects a tampered payload and a
// signature made without Z (which certhub's verifier rejects as well).
func TestSM2OpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl, version 3")
	f := newSM2Fixture(t)
	dir := t.TempDir()
	spki, err := smx509.MarshalPKIXPublicKey(publicFromJWK(t, f.jwk))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The key file names the SM2 curve (1.2.156.10197.1.301).
	if out, err := exec.Command(openssl, "pkey", "-pubin", "-in", pubPEM, "-noout", "-text").CombinedOutput(); err != nil || !strings.Contains(string(out), "SM2") {
		t.Fatalf("openssl does not read the key as SM2: %v\n%s", err, out)
	}
	input, _ := jwsParts(t, f.doc)
	noZ := withSignature(input, signWithoutZ(t, f.priv, input))
	if _, err := f.m.Verify(context.Background(), noZ); !isReason(err, ReasonBadSignature) {
		t.Fatalf("certhub accepted a signature without Z: %v", err)
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		ok   bool
	}{
		{"certhub document", f.doc, true},
		{"tampered payload", tampered(f.doc), false},
		{"signed without Z", noZ, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input, sig := jwsParts(t, tc.doc)
			der, err := sm2RawToDER(sig)
			if err != nil {
				t.Fatal(err)
			}
			in, sf := filepath.Join(dir, tc.name+".in"), filepath.Join(dir, tc.name+".der")
			_ = os.WriteFile(in, input, 0o600)
			_ = os.WriteFile(sf, der, 0o600)
			out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-rawin", "-digest", "sm3",
				"-pkeyopt", "distid:"+SM2UserID, "-in", in, "-sigfile", sf).CombinedOutput()
			verified := err == nil && strings.Contains(string(out), "Signature Verified Successfully")
			if verified != tc.ok {
				t.Fatalf("openssl verified=%v, want %v: %v\n%s", verified, tc.ok, err, out)
			}
		})
	}
}

// sm2VerifyJS runs sm-crypto's doVerifySignature on each case read from
// stdin and prints one boolean per case.
const sm2VerifyJS = `
const { sm2 } = require('sm-crypto');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map(c =>
  sm2.doVerifySignature(Buffer.from(c.msg, 'hex').toString('latin1'), c.sig, c.pub,
    { der: false, hash: true, userId: '1234567812345678' }))));
`

// TestSM2SmCrypto verifies certhub's SM2 JWS with npm sm-crypto@0.5.8 (raw
// r‖s, SM3 with Z of the default user ID), and checks that it rejects a
// tampered payload and a signature made without Z.
func TestSM2SmCrypto(t *testing.T) {
	t.Parallel()
	node, dir := testenv.NPM(t, "sm-crypto@0.5.8")
	f := newSM2Fixture(t)
	x, _ := base64.RawURLEncoding.DecodeString(f.jwk["x"])
	y, _ := base64.RawURLEncoding.DecodeString(f.jwk["y"])
	pub := "04" + hex.EncodeToString(x) + hex.EncodeToString(y)
	input, _ := jwsParts(t, f.doc)
	docs := [][]byte{f.doc, tampered(f.doc), withSignature(input, signWithoutZ(t, f.priv, input))}
	want := []bool{true, false, false}
	var cases []map[string]string
	for _, d := range docs {
		in, sig := jwsParts(t, d)
		cases = append(cases, map[string]string{"msg": hex.EncodeToString(in), "sig": hex.EncodeToString(sig), "pub": pub})
	}
	stdin, _ := json.Marshal(cases)
	script := filepath.Join(dir, "verify.js")
	if err := os.WriteFile(script, []byte(sm2VerifyJS), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(want) {
		t.Fatalf("sm-crypto answered %s", out)
	}
	for i, name := range []string{"certhub document", "tampered payload", "signed without Z"} {
		if got[i] != want[i] {
			t.Errorf("%s: sm-crypto verified=%v, want %v", name, got[i], want[i])
		}
	}
}
