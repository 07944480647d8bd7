package signing_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var authority = signing.SealSubject{Name: "杭州市市场监督管理局", USCC: "11330100MB0000001R"}

func sm2Key(t *testing.T) *sm2.PrivateKey {
	t.Helper()
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func p256Key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealCertificatesVerifyWithOpenSSL: the SM2 root certifies an SM2
// seal key, the P-256 root an ES256 and an Ed25519 one, and OpenSSL accepts
// each chain (with the SM2 default user ID), and refuses a leaf checked
// against the other root.
func TestSealCertificatesVerifyWithOpenSSL(t *testing.T) {
	t.Parallel()
	ossl := testenv.Tool(t, "openssl", "Debian package openssl")
	now := time.Now()
	sm2Root, p256Root := sm2Key(t), p256Key(t)
	sm2RootDER, err := signing.NewCARoot(sm2Root, "certhub test", now)
	if err != nil {
		t.Fatal(err)
	}
	p256RootDER, err := signing.NewCARoot(p256Root, "certhub test", now)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name     string
		key      crypto.Signer
		root     crypto.Signer
		rootDER  []byte
		otherDER []byte
		sigAlg   string
	}{
		{"SM2", sm2Key(t), sm2Root, sm2RootDER, p256RootDER, "SM2-with-SM3"},
		{"ES256", p256Key(t), p256Root, p256RootDER, sm2RootDER, "ecdsa-with-SHA256"},
		{"EdDSA", edKey, p256Root, p256RootDER, sm2RootDER, "ecdsa-with-SHA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := signing.IssueSealCert(tc.rootDER, tc.root, tc.key.Public(), authority, now)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			rootPEM := write(t, dir, "root.pem", signing.CertPEM(tc.rootDER))
			otherPEM := write(t, dir, "other.pem", signing.CertPEM(tc.otherDER))
			leafPEM := write(t, dir, "leaf.pem", signing.CertPEM(leaf))
			// The SM2 user ID is an option of SM2 verification only; given to
			// ECDSA it makes OpenSSL fail.
			var opts []string
			if tc.name == "SM2" {
				opts = []string{"-vfyopt", "distid:1234567812345678"}
			}
			verify := func(ca string) ([]byte, error) {
				return exec.Command(ossl, append(append([]string{"verify"}, opts...), "-CAfile", ca, leafPEM)...).CombinedOutput()
			}
			out, err := verify(rootPEM)
			if err != nil || !strings.Contains(string(out), "leaf.pem: OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
			if out, err := verify(otherPEM); err == nil {
				t.Fatalf("openssl accepted the leaf under the other root:\n%s", out)
			}
			text, err := exec.Command(ossl, "x509", "-in", leafPEM, "-noout", "-text", "-nameopt", "utf8").CombinedOutput()
			if err != nil {
				t.Fatalf("openssl x509: %v\n%s", err, text)
			}
			for _, want := range []string{"Signature Algorithm: " + tc.sigAlg, "CN=杭州市市场监督管理局", "serialNumber=11330100MB0000001R",
				"USCC-11330100MB0000001R", "Digital Signature, Non Repudiation", "CA:FALSE"} {
				if !strings.Contains(string(text), want) && !strings.Contains(strings.ReplaceAll(string(text), " = ", "="), want) {
					t.Errorf("certificate lacks %q:\n%s", want, text)
				}
			}
			if _, err := signing.CheckSealCert("certificate", leaf, tc.key.Public(), [][]byte{tc.rootDER}, now); err != nil {
				t.Fatalf("CheckSealCert: %v", err)
			}
		})
	}
	// One level only: the roots may not certify CAs.
	rootText, _ := exec.Command(ossl, "x509", "-in", write(t, t.TempDir(), "r.pem", signing.CertPEM(sm2RootDER)), "-noout", "-text").CombinedOutput()
	if !strings.Contains(string(rootText), "CA:TRUE, pathlen:0") {
		t.Fatalf("SM2 root is not a path-length-0 CA:\n%s", rootText)
	}
}

// TestSealCSRVerifiesWithOpenSSL: a CSR for an SM2 seal key, for an
// external CA, is self-signed with SM2/SM3 and the default user ID.
func TestSealCSRVerifiesWithOpenSSL(t *testing.T) {
	t.Parallel()
	ossl := testenv.Tool(t, "openssl", "Debian package openssl")
	csr, err := signing.SealCSR(sm2Key(t), authority)
	if err != nil {
		t.Fatal(err)
	}
	p := write(t, t.TempDir(), "csr.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	out, err := exec.Command(ossl, "req", "-in", p, "-noout", "-verify", "-vfyopt", "distid:1234567812345678").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") {
		t.Fatalf("openssl req -verify: %v\n%s", err, out)
	}
	if _, err := smx509.ParseCertificateRequest(csr); err != nil {
		t.Fatal(err)
	}
}

// TestCheckSealCertRefuses: a certificate for another key, an expired or
// not-yet-valid one, one from a root the hub does not trust, a PEM block of
// another kind and garbage are each refused, naming the field.
func TestCheckSealCertRefuses(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := sm2Key(t)
	rootDER, _ := signing.NewCARoot(root, "certhub test", now)
	strange := sm2Key(t)
	strangeDER, _ := signing.NewCARoot(strange, "elsewhere", now)
	key := sm2Key(t)
	good, err := signing.IssueSealCert(rootDER, root, key.Public(), authority, now)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := signing.IssueSealCert(strangeDER, strange, key.Public(), authority, now)
	if _, err := signing.IssueSealCert(rootDER, root, p256Key(t).Public(), authority, now); err == nil {
		t.Fatal("the SM2 root certified a P-256 key")
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		pub  crypto.PublicKey
		at   time.Time
		want string
	}{
		{"another key", good, sm2Key(t).Public(), now, "another key"},
		{"expired", good, key.Public(), now.Add(6 * 365 * 24 * time.Hour), "expired"},
		{"not yet valid", good, key.Public(), now.Add(-2 * time.Hour), "not valid before"},
		{"untrusted root", foreign, key.Public(), now, "not signed by a seal CA root"},
		{"PEM of a key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), key.Public(), now, "want CERTIFICATE"},
		{"garbage", []byte("not a certificate"), key.Public(), now, "not an X.509 certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.CheckSealCert("certificate", tc.raw, tc.pub, [][]byte{rootDER}, tc.at)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want invalid certificate: %s", err, tc.want)
			}
		})
	}
	if der, err := signing.CheckSealCert("certificate", signing.CertPEM(good), key.Public(), [][]byte{rootDER}, now); err != nil || string(der) != string(good) {
		t.Fatalf("PEM input: %v", err)
	}
}
