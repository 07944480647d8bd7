package storetest

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// testSealCA covers the seal CA's roots (one per family, a second insert
// conflicts so racing replicas agree) and the seal keys' certificate
// columns (set, set only if none, read back by every key query).
func testSealCA(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	roots, err := s.CARoots(ctx)
	must(t, err)
	if len(roots) != 0 {
		t.Fatalf("CARoots on an empty store = %d", len(roots))
	}
	sm2 := &signing.CARoot{Family: "SM2", Backend: "local", Sealed: []byte{1, 2}, Certificate: []byte{0x30, 1}, CreatedAt: t0}
	p256 := &signing.CARoot{Family: "P-256", Backend: "local", Sealed: []byte{3, 4}, Certificate: []byte{0x30, 2}, CreatedAt: t0}
	must(t, s.InsertCARoot(ctx, sm2))
	must(t, s.InsertCARoot(ctx, p256))
	mustCode(t, errs.Conflict, s.InsertCARoot(ctx, &signing.CARoot{Family: "SM2", Backend: "local", Sealed: []byte{9}, Certificate: []byte{9}, CreatedAt: t0}))
	roots, err = s.CARoots(ctx)
	must(t, err)
	if len(roots) != 2 || roots[0].Family != "P-256" || roots[1].Family != "SM2" ||
		!bytes.Equal(roots[1].Sealed, sm2.Sealed) || !bytes.Equal(roots[1].Certificate, sm2.Certificate) ||
		roots[1].Backend != "local" || !roots[1].CreatedAt.Equal(t0) {
		t.Fatalf("CARoots = %+v", roots)
	}

	_, err = s.SealSubject(ctx, authCode)
	mustCode(t, errs.NotFound, err)
	SeedCatalog(t, s) // kid-1, without a certificate
	sub, err := s.SealSubject(ctx, authCode)
	must(t, err)
	if sub.Name != "某市市场监督管理局" || sub.USCC != authCode {
		t.Fatalf("SealSubject = %+v", sub)
	}
	k, err := s.GetKey(ctx, "kid-1")
	must(t, err)
	if k.Certificate != nil || k.CertificateChain != nil || k.CertificateSource != "" {
		t.Fatalf("a key without certificate reads back %+v", k)
	}
	mustCode(t, errs.NotFound, s.SetKeyCertificate(ctx, "kid-unknown", []byte{1}, nil, signing.CertHub, false))

	// A key stored with its certificate reads it back, from every query.
	at := t0.Add(1)
	withCert := &signing.Key{KID: "kid-2", Authority: authCode, Algorithm: signing.SM2, PublicJWK: []byte(`{"kty":"EC"}`), Backend: "local",
		Sealed: []byte{4}, Status: signing.KeyActive, CreatedAt: at, Certificate: []byte{0x30, 3}, CertificateChain: []byte{0x30, 4}, CertificateSource: signing.CertHub}
	must(t, s.InsertKey(ctx, withCert))
	rotated := &signing.Key{KID: "kid-3", Authority: authCode, Algorithm: signing.SM2, PublicJWK: []byte(`{"kty":"EC"}`), Backend: "local",
		Sealed: []byte{5}, Status: signing.KeyActive, CreatedAt: at.Add(1), Certificate: []byte{0x30, 5}, CertificateSource: signing.CertHub}
	must(t, s.RotateKey(ctx, authCode, rotated, at.Add(1)))
	for _, kid := range []string{"kid-2", "kid-3"} {
		k, err := s.GetKey(ctx, kid)
		must(t, err)
		want := map[string]*signing.Key{"kid-2": withCert, "kid-3": rotated}[kid]
		if !bytes.Equal(k.Certificate, want.Certificate) || !bytes.Equal(k.CertificateChain, want.CertificateChain) || k.CertificateSource != signing.CertHub {
			t.Fatalf("%s reads back certificate %x chain %x source %q", kid, k.Certificate, k.CertificateChain, k.CertificateSource)
		}
	}
	if (len(mustKey(t, s, "kid-3").CertificateChain)) != 0 {
		t.Fatal("an empty chain reads back non-empty")
	}

	// The backfill's write: only where there is none.
	must(t, s.SetKeyCertificate(ctx, "kid-1", []byte{0x30, 6}, []byte{0x30, 7}, signing.CertHub, true))
	mustCode(t, errs.Conflict, s.SetKeyCertificate(ctx, "kid-1", []byte{0x30, 8}, nil, signing.CertHub, true))
	// An import replaces it.
	must(t, s.SetKeyCertificate(ctx, "kid-1", []byte{0x30, 9}, nil, signing.CertExternal, false))
	keys, err := s.ListKeys(ctx, authCode)
	must(t, err)
	got := map[string]*signing.Key{}
	for _, k := range keys {
		got[k.KID] = k
	}
	if k := got["kid-1"]; k == nil || !bytes.Equal(k.Certificate, []byte{0x30, 9}) || len(k.CertificateChain) != 0 || k.CertificateSource != signing.CertExternal {
		t.Fatalf("kid-1 after import = %+v", k)
	}
	if k, err := s.ActiveKey(ctx, authCode); err != nil || k.Certificate == nil {
		t.Fatalf("ActiveKey = %+v, %v; want its certificate", k, err)
	}
}

func mustKey(t *testing.T, s *sqlstore.Store, kid string) *signing.Key {
	t.Helper()
	k, err := s.GetKey(context.Background(), kid)
	must(t, err)
	return k
}

// testSealCAReplicas starts the seal CA from several replicas at once (one
// master key, one store): each succeeds, one root per family is kept, and
// the certificates every replica issues chain to those roots.
func testSealCAReplicas(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const authCode = "11330100MB0000001R"
	must(t, s.CreateAuthority(ctx, &certificates.Authority{Code: authCode, Name: "某市市场监督管理局", CreatedAt: t0}))
	master, err := signing.GenerateMasterKey()
	must(t, err)
	const replicas = 4
	managers := make([]*signing.Manager, replicas)
	for i := range managers {
		managers[i], err = signing.NewManager(s, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
		must(t, err)
	}
	var wg sync.WaitGroup
	created := make([]bool, replicas)
	failed := make([]error, replicas)
	for i, m := range managers {
		wg.Go(func() { created[i], _, failed[i] = m.EnsureCA(ctx) })
	}
	wg.Wait()
	for i, err := range failed {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	roots, err := s.CARoots(ctx)
	must(t, err)
	if len(roots) != 2 || roots[0].Family != "P-256" || roots[1].Family != "SM2" {
		t.Fatalf("roots after a concurrent start: %+v", roots)
	}
	if !slices.Contains(created, true) {
		t.Fatal("no replica says it created the CA")
	}
	for i, m := range managers {
		alg := []signing.Algorithm{signing.SM2, signing.ES256, signing.EdDSA, signing.SM2}[i]
		var k *signing.Key
		if i == 0 {
			k, err = m.CreateKey(ctx, authCode, alg)
		} else {
			k, err = m.Rotate(ctx, authCode, alg)
		}
		must(t, err)
		leaf, err := smx509.ParseCertificate(k.Certificate)
		must(t, err)
		ok := false
		for _, r := range roots {
			rc, err := smx509.ParseCertificate(r.Certificate)
			must(t, err)
			ok = ok || leaf.CheckSignatureFrom(rc) == nil
		}
		if !ok || k.CertificateSource != signing.CertHub || leaf.Subject.SerialNumber != authCode {
			t.Fatalf("replica %d's %s certificate does not chain to the stored roots (%s)", i, alg, leaf.Subject)
		}
	}
}
