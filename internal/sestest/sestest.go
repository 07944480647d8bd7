// Package sestest makes what tests of GB/T 38540 electronic seals need: SM2
// keys with SM2-with-SM3 certificates (a root and the certificates it
// issues, one level deep), a seal picture, and the external verifiers
// (OpenSSL, Node) that check certhub's output independently.
package sestest

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/testenv"
)

// Party is an SM2 key and its certificate.
type Party struct {
	Key  *sm2.PrivateKey
	Cert []byte // DER, SM2 with SM3 (1.2.156.10197.1.501)
	X509 *smx509.Certificate
}

// NewRoot makes a self-signed SM2 root, valid for ten years around now.
func NewRoot(t testing.TB, name string, now time.Time) *Party {
	t.Helper()
	return newParty(t, name, nil, true, now.Add(-24*time.Hour), now.AddDate(10, 0, 0))
}

// Issue makes an SM2 key and an end-entity certificate for it, signed by
// the root, valid from notBefore to notAfter.
func (root *Party) Issue(t testing.TB, name string, notBefore, notAfter time.Time) *Party {
	t.Helper()
	return newParty(t, name, root, false, notBefore, notAfter)
}

func newParty(t testing.TB, name string, parent *Party, ca bool, notBefore, notAfter time.Time) *Party {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"certhub test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              smx509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    smx509.SM2WithSM3,
	}
	if ca {
		tmpl.IsCA = true
		tmpl.KeyUsage |= smx509.KeyUsageCertSign
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.X509, parent.Key
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Party{Key: key, Cert: der, X509: cert}
}

// PNG is a small red-ring seal picture.
func PNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 40; x++ {
			d := (x-20)*(x-20) + (y-20)*(y-20)
			if d <= 19*19 && d >= 16*16 {
				img.Set(x, y, color.NRGBA{R: 0xd0, A: 0xff})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// OpenSSLVerify checks an SM2 signature (DER) of msg by the public key in
// certDER with OpenSSL 3 (pkeyutl, SM3, distid 1234567812345678) and
// returns its output and whether OpenSSL said "Signature Verified
// Successfully".
func OpenSSLVerify(t testing.TB, certDER, msg, sig []byte) (string, bool) {
	t.Helper()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPath, msgPath, sigPath := write("cert.der", certDER), write("msg", msg), write("sig.der", sig)
	pub, err := exec.Command(openssl, "x509", "-inform", "DER", "-in", certPath, "-pubkey", "-noout").Output()
	if err != nil {
		t.Fatalf("openssl x509 -pubkey: %v", err)
	}
	pubPath := write("pub.pem", pub)
	out, _ := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-digest", "sm3",
		"-pkeyopt", "distid:1234567812345678", "-in", msgPath, "-sigfile", sigPath).CombinedOutput()
	return string(out), bytes.Contains(out, []byte("Signature Verified Successfully"))
}
