package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/signing"
)

// TestSealCACLI drives the seal CA commands on the built binary: seals ca
// init (once), keys csr for an SM2 key, keys import-cert of a certificate
// an external CA made from that CSR (with its chain), and the JWKS that
// then publishes it.
func TestSealCACLI(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "hub")
	if out, code := certhub(t, "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	out, code := certhub(t, "seals", "ca", "init", "--data", data)
	if code != 0 || strings.Count(out, "BEGIN CERTIFICATE") != 2 {
		t.Fatalf("seals ca init: %d\n%s", code, out)
	}
	if out, code := certhub(t, "seals", "ca", "init", "--data", data); code == 0 || !strings.Contains(out, "already has a seal CA") {
		t.Fatalf("second seals ca init: %d\n%s", code, out)
	}

	p := start(t, []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}, "--data", data)
	a := p.must(201, "POST", "/api/v1/authorities", admin, map[string]string{"code": market, "name": "杭州市市场监督管理局", "algorithm": "SM2"})
	kid := a["keys"].([]any)[0].(map[string]any)["kid"].(string)
	if c := a["keys"].([]any)[0].(map[string]any)["certificate"]; c != "hub" {
		t.Fatalf("new key certificate = %v, want hub", c)
	}

	out, code = certhub(t, "keys", "csr", "--data", data, "--", kid)
	b, _ := pem.Decode([]byte(out))
	if code != 0 || b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("keys csr: %d\n%s", code, out)
	}
	csr, err := smx509.ParseCertificateRequest(b.Bytes)
	if err != nil || csr.CheckSignature() != nil || csr.Subject.SerialNumber != market || !signing.IsSM2(csr.PublicKey) {
		t.Fatalf("CSR: %v %s", err, csr.Subject)
	}

	caKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caDER, err := signing.NewCARoot(caKey, "某省数字证书认证中心", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := signing.IssueSealCert(caDER, caKey, csr.PublicKey, signing.SealSubject{Name: "杭州市市场监督管理局", USCC: market}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	garbage := write("garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	if out, code := certhub(t, "keys", "import-cert", "--data", data, "--", kid, garbage); code == 0 || !strings.Contains(out, "certificate") {
		t.Fatalf("import of garbage: %d %s", code, out)
	}
	certFile, chainFile := write("seal.pem", signing.CertPEM(leaf)), write("chain.pem", signing.CertPEM(caDER))
	if out, code := certhub(t, "keys", "import-cert", "--chain", chainFile, "--data", data, "--", kid, certFile); code != 0 || !strings.Contains(out, "external") {
		t.Fatalf("keys import-cert: %d %s", code, out)
	}

	var set struct {
		Keys []struct {
			KID string   `json:"kid"`
			X5C []string `json:"x5c"`
		}
	}
	if err := json.Unmarshal(p.do("GET", "/.well-known/jwks.json", "", nil).body, &set); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range set.Keys {
		if k.KID == kid {
			found = len(k.X5C) == 2 && k.X5C[0] == base64.StdEncoding.EncodeToString(leaf) && k.X5C[1] == base64.StdEncoding.EncodeToString(caDER)
		}
	}
	if !found {
		t.Fatalf("the JWKS does not publish the imported certificate and chain for %s", kid)
	}
	if roots := p.do("GET", "/.well-known/certhub-seal-ca.pem", "", nil).body; !bytes.Contains(roots, signing.CertPEM(caDER)) {
		t.Fatalf("seal CA PEM lacks the external root:\n%s", roots)
	}
}
