package httpapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/certhub/certhub/internal/hubtest"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// getPublic fetches a public path and returns its body.
func (h *hub) getPublic(path string) []byte {
	h.t.Helper()
	resp, err := http.Get(h.Srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// activeKID is the authority's active key of alg.
func (h *hub) activeKID(code, alg string) string {
	h.t.Helper()
	var keys struct {
		Keys []struct{ KID, Alg, Status, Certificate string }
	}
	if st := h.call("GET", "/api/v1/authorities/"+code+"/keys", h.Admin, nil, &keys); st != 200 {
		h.t.Fatalf("keys of %s: %d", code, st)
	}
	for _, k := range keys.Keys {
		if k.Alg == alg && k.Status == "active" {
			return k.KID
		}
	}
	h.t.Fatalf("%s has no active %s key: %+v", code, alg, keys)
	return ""
}

// x5c returns the certificates of kid's JWKS entry (leaf first) and the
// entry's public key. Every key's chain is in x5c, SM2 keys' too; jwx
// cannot validate an SM2 certificate (crypto/x509), so an SM2 entry is
// parsed as a key without it.
func (h *hub) x5c(kid string) ([]*smx509.Certificate, crypto.PublicKey) {
	h.t.Helper()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(h.getPublic("/.well-known/jwks.json"), &set); err != nil {
		h.t.Fatal(err)
	}
	for _, raw := range set.Keys {
		var e struct {
			KID string   `json:"kid"`
			Crv string   `json:"crv"`
			X5C []string `json:"x5c"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.KID != kid {
			continue
		}
		chain := e.X5C
		if e.Crv == "SM2" {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			delete(m, "x5c")
			raw, _ = json.Marshal(m)
		}
		var certs []*smx509.Certificate
		for _, s := range chain {
			der, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				h.t.Fatalf("x5c of %s is not standard base64: %v", kid, err)
			}
			c, err := smx509.ParseCertificate(der)
			if err != nil {
				h.t.Fatalf("x5c of %s: %v", kid, err)
			}
			certs = append(certs, c)
		}
		k, err := jwk.ParseKey(raw)
		if err != nil {
			h.t.Fatalf("JWKS entry of %s does not parse (with x5c): %v", kid, err)
		}
		var pub any
		if err := jwk.Export(k, &pub); err != nil {
			h.t.Fatal(err)
		}
		return certs, pub
	}
	h.t.Fatalf("no JWKS entry for %s", kid)
	return nil, nil
}

func samePub(a, b crypto.PublicKey) bool {
	x, ok1 := a.(*ecdsa.PublicKey)
	y, ok2 := b.(*ecdsa.PublicKey)
	return ok1 && ok2 && x.Curve.Params().Name == y.Curve.Params().Name && x.X.Cmp(y.X) == 0 && x.Y.Cmp(y.Y) == 0
}

// opensslVerify checks leaf against the roots with OpenSSL; SM2 needs the
// default distinguishing ID (and ECDSA must not be given one).
func opensslVerify(t *testing.T, openssl string, roots []byte, leaf *smx509.Certificate) error {
	t.Helper()
	dir := t.TempDir()
	rootFile, leafFile := filepath.Join(dir, "root.pem"), filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(rootFile, roots, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leafFile, signing.CertPEM(leaf.Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify"}
	if signing.IsSM2(leaf.PublicKey) {
		args = append(args, "-vfyopt", "distid:1234567812345678")
	}
	out, err := exec.Command(openssl, append(args, "-CAfile", rootFile, leafFile)...).CombinedOutput()
	if err != nil {
		return &exec.Error{Name: string(out), Err: err}
	}
	if !strings.Contains(string(out), ": OK") {
		return &exec.Error{Name: string(out), Err: os.ErrInvalid}
	}
	return nil
}

// TestSealCertificates: an SM2 and an ES256 authority get hub-issued seal
// certificates, published in the JWKS (x5c) and accepted by OpenSSL against
// /.well-known/certhub-seal-ca.pem; a rotation issues a new one.
func TestSealCertificates(t *testing.T) {
	t.Parallel()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl, version 3")
	for _, tc := range []struct {
		name string
		opts []hubtest.Option
	}{
		{"sqlite", nil},
		{"postgres", []hubtest.Option{hubtest.OnPostgres()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHub(t, tc.opts...)
			authorities := []struct{ code, name, alg string }{
				{marketCode, "杭州市市场监督管理局", "SM2"},
				{otherCode, "杭州市规划和自然资源局", "ES256"},
			}
			for _, a := range authorities {
				if st := h.call("POST", "/api/v1/authorities", h.Admin, map[string]string{"code": a.code, "name": a.name, "algorithm": a.alg}, nil); st != 201 {
					t.Fatalf("create %s: %d", a.name, st)
				}
			}
			// The set parses with jwx as docs/sm2.md says a Go client
			// should, and ?alg= gives jwx a set it parses as it is.
			for _, a := range authorities {
				if _, ok := h.jwks().LookupKeyID(h.activeKID(a.code, a.alg)); !ok {
					t.Fatalf("jwx does not find the %s key", a.alg)
				}
			}
			plain, err := jwk.Parse(h.getPublic("/.well-known/jwks.json?alg=ES256,EdDSA"))
			if err != nil {
				t.Fatalf("?alg=ES256,EdDSA does not parse with jwx: %v", err)
			}
			if _, ok := plain.LookupKeyID(h.activeKID(otherCode, "ES256")); !ok || plain.Len() != 2 {
				t.Fatalf("?alg=ES256,EdDSA: %d keys, want the ES256 seal key and the hub key", plain.Len())
			}
			var bad errorAnswer
			if st := h.call("GET", "/.well-known/jwks.json?alg=RS256", "", nil, &bad); st != 400 || !bad.names("alg", "ES256, EdDSA and SM2SM3") {
				t.Fatalf("?alg=RS256: %d %+v, want 400 naming alg", st, bad.Error)
			}
			roots := h.getPublic("/.well-known/certhub-seal-ca.pem")
			if n := bytes.Count(roots, []byte("BEGIN CERTIFICATE")); n != 2 {
				t.Fatalf("seal CA PEM holds %d certificates, want the SM2 and P-256 roots", n)
			}
			check := func(t *testing.T, code, name, kid string) *smx509.Certificate {
				t.Helper()
				certs, pub := h.x5c(kid)
				if len(certs) != 2 {
					t.Fatalf("x5c of %s holds %d certificates, want leaf and root", kid, len(certs))
				}
				leaf := certs[0]
				if !samePub(leaf.PublicKey, pub) {
					t.Fatalf("the certificate of %s certifies another key than the JWK's", kid)
				}
				if leaf.Subject.CommonName != name || leaf.Subject.SerialNumber != code {
					t.Fatalf("subject %s, want %s / %s", leaf.Subject, name, code)
				}
				if signing.IsSM2(pub) != (leaf.SignatureAlgorithm == smx509.SM2WithSM3) {
					t.Fatalf("%s key certified with %s", map[bool]string{true: "SM2", false: "ECDSA"}[signing.IsSM2(pub)], leaf.SignatureAlgorithm)
				}
				if err := opensslVerify(t, openssl, roots, leaf); err != nil {
					t.Fatalf("openssl verify of %s's certificate: %v", name, err)
				}
				return leaf
			}
			var first []*smx509.Certificate
			for _, a := range authorities {
				first = append(first, check(t, a.code, a.name, h.activeKID(a.code, a.alg)))
			}
			// An altered certificate does not verify:
			// OpenSSL is really checking.
			tampered := *first[0]
			tampered.Raw = bytes.Clone(first[0].Raw)
			tampered.Raw[len(tampered.Raw)-5] ^= 1
			if err := opensslVerify(t, openssl, roots, &tampered); err == nil {
				t.Fatal("openssl accepted an altered certificate")
			}

			// Rotation: the new key has its own certificate; the old one
			// keeps its certificate in the JWKS.
			old := h.activeKID(marketCode, "SM2")
			var rotated struct{ KID, Certificate string }
			if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/rotate", h.Admin, map[string]string{"algorithm": "SM2"}, &rotated); st != 201 || rotated.Certificate != "hub" {
				t.Fatalf("rotate: %d %+v", st, rotated)
			}
			leaf := check(t, marketCode, "杭州市市场监督管理局", rotated.KID)
			if leaf.SerialNumber.Cmp(first[0].SerialNumber) == 0 {
				t.Fatal("rotation reused the old certificate")
			}
			if certs, _ := h.x5c(old); len(certs) != 2 || !bytes.Equal(certs[0].Raw, first[0].Raw) {
				t.Fatal("the retired key lost its certificate")
			}
			// Adding a key of another algorithm certifies it too.
			var added struct{ KID, Certificate string }
			if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "ES256"}, &added); st != 201 || added.Certificate != "hub" {
				t.Fatalf("add key: %d %+v", st, added)
			}
			check(t, marketCode, "杭州市市场监督管理局", added.KID)
		})
	}
}

// TestSealCertificateBackfill: keys made before the seal CA existed get a
// certificate at start, once.
func TestSealCertificateBackfill(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seedWith("SM2")
	kid := h.activeKID(marketCode, "SM2")
	ctx := context.Background()
	if _, err := h.Store.DB().Exec(ctx, `UPDATE seal_keys SET certificate = NULL, certificate_chain = NULL, certificate_source = ''`); err != nil {
		t.Fatal(err)
	}
	if certs, _ := h.x5c(kid); len(certs) != 0 {
		t.Fatal("x5c without a certificate")
	}
	created, n, err := h.API.Keys.EnsureCA(ctx)
	if err != nil || created || n != 2 {
		t.Fatalf("EnsureCA = %v, %d, %v; want the existing CA and 2 keys certified", created, n, err)
	}
	if certs, _ := h.x5c(kid); len(certs) != 2 {
		t.Fatal("the backfill did not certify the key")
	}
	if _, n, err := h.API.Keys.EnsureCA(ctx); err != nil || n != 0 {
		t.Fatalf("second EnsureCA certified %d (%v), want none", n, err)
	}
}

// externalCA is a CA outside the hub, of one family.
type externalCA struct {
	der []byte
	key crypto.Signer
}

func newExternalCA(t *testing.T, sm bool) *externalCA {
	t.Helper()
	var key crypto.Signer
	var err error
	if sm {
		key, err = sm2.GenerateKey(rand.Reader)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := signing.NewCARoot(key, "某省电子认证服务有限公司", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &externalCA{der: der, key: key}
}

func (ca *externalCA) issue(t *testing.T, pub crypto.PublicKey, at time.Time) []byte {
	t.Helper()
	der, err := signing.IssueSealCert(ca.der, ca.key, pub, signing.SealSubject{Name: "杭州市市场监督管理局", USCC: marketCode}, at)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSealCertificateImport: a CSR for each seal key, a certificate from an
// external CA (made here) imported with its chain, and bad input refused
// with a 400 naming the field, nothing stored.
func TestSealCertificateImport(t *testing.T) {
	t.Parallel()
	openssl := testenv.Tool(t, "openssl", "Debian package openssl, version 3")
	h := newHub(t)
	h.seedWith("SM2")
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "ES256"}, nil); st != 201 {
		t.Fatalf("add ES256 key: %d", st)
	}
	ctx := context.Background()
	for _, alg := range []string{"SM2", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			kid := h.activeKID(marketCode, alg)
			csrPEM, err := h.API.Keys.CSR(ctx, kid)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(csrPEM)
			if b == nil || b.Type != "CERTIFICATE REQUEST" {
				t.Fatalf("CSR is not PEM: %s", csrPEM)
			}
			csr, err := smx509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatalf("CSR signature: %v", err)
			}
			// OpenSSL checks the CSR's self-signature (SM2: with the
			// default distinguishing ID).
			csrFile := filepath.Join(t.TempDir(), "seal.csr")
			if err := os.WriteFile(csrFile, csrPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"req", "-in", csrFile, "-noout", "-verify"}
			if alg == "SM2" {
				args = append(args, "-vfyopt", "distid:1234567812345678")
			}
			if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "verify OK") {
				t.Fatalf("openssl req -verify: %v\n%s", err, out)
			}
			_, jwkPub := h.x5c(kid)
			if !samePub(csr.PublicKey, jwkPub) || csr.Subject.SerialNumber != marketCode {
				t.Fatalf("CSR for another key or subject: %s", csr.Subject)
			}
			ca := newExternalCA(t, alg == "SM2")
			other := newExternalCA(t, alg == "SM2") // its key is "another key"
			before, _ := h.x5c(kid)

			now := time.Now()
			bad := []struct {
				name, body, field, reason string
			}{
				{"garbage", "not a certificate", "certificate", "not an X.509 certificate"},
				{"empty", "", "certificate", "required"},
				{"another key", string(signing.CertPEM(ca.issue(t, other.key.Public(), now))), "certificate", "another key"},
				{"expired", string(signing.CertPEM(ca.issue(t, csr.PublicKey, now.AddDate(-6, 0, 0)))), "certificate", "expired"},
				{"not yet valid", string(signing.CertPEM(ca.issue(t, csr.PublicKey, now.AddDate(1, 0, 0)))), "certificate", "not valid before"},
				{"a CSR", string(csrPEM), "certificate", "want CERTIFICATE"},
				{"chain not the issuer", string(signing.CertPEM(ca.issue(t, csr.PublicKey, now), other.der)), "chain", "did not sign"},
				{"chain garbage", string(signing.CertPEM(ca.issue(t, csr.PublicKey, now))) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "chain", "not an X.509"},
			}
			for _, tt := range bad {
				var out struct {
					Error struct{ Code, Message, Field string }
				}
				st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/"+kid+"/certificate", h.Admin, tt.body, &out)
				if st != 400 || out.Error.Field != tt.field || !strings.Contains(out.Error.Message, tt.reason) {
					t.Fatalf("%s: %d %+v, want 400 naming %s (%q)", tt.name, st, out.Error, tt.field, tt.reason)
				}
			}
			if after, _ := h.x5c(kid); len(after) != len(before) || !bytes.Equal(after[0].Raw, before[0].Raw) {
				t.Fatal("bad input changed the key's certificate")
			}
			// Another authority's path does not reach the key.
			if st := h.call("POST", "/api/v1/authorities/"+otherCode+"/keys/"+kid+"/certificate", h.Admin, "x", nil); st != 404 {
				t.Fatalf("key under another authority: %d, want 404", st)
			}

			leafDER := ca.issue(t, csr.PublicKey, now)
			var k struct{ KID, Certificate string }
			if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/"+kid+"/certificate", h.Admin,
				string(signing.CertPEM(leafDER, ca.der)), &k); st != 200 || k.Certificate != "external" {
				t.Fatalf("import: %d %+v", st, k)
			}
			certs, _ := h.x5c(kid)
			if len(certs) != 2 || !bytes.Equal(certs[0].Raw, leafDER) || !bytes.Equal(certs[1].Raw, ca.der) {
				t.Fatal("x5c is not the imported certificate and its chain")
			}
			roots := h.getPublic("/.well-known/certhub-seal-ca.pem")
			if !bytes.Contains(roots, signing.CertPEM(ca.der)) {
				t.Fatal("the external root is not published with the seal CA")
			}
			if err := opensslVerify(t, openssl, signing.CertPEM(ca.der), certs[0]); err != nil {
				t.Fatalf("openssl verify of the imported certificate: %v", err)
			}
		})
	}
}
