package signing

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/certhub/certhub/internal/errs"
)

// CertSource says who issued a seal key's certificate.
type CertSource string

// Certificate sources.
const (
	CertHub      CertSource = "hub"      // the hub's own seal CA
	CertExternal CertSource = "external" // an external CA, imported for a CSR the hub made
)

// CARoot is one root of the hub's seal CA: its family ("SM2" certifies SM2
// keys, "P-256" the others), its self-signed certificate (DER) and its
// private key, sealed by a Backend exactly like a seal key's.
type CARoot struct {
	Family      string
	Backend     string
	Sealed      []byte
	Certificate []byte
	CreatedAt   time.Time
}

// CAStore keeps the seal CA's roots and the seal keys' certificates. A
// KeyStore that implements it too makes the Manager certify every key.
type CAStore interface {
	// InsertCARoot stores a root; errs.Conflict if a root of its family
	// exists (another replica made it first: read it with CARoots).
	InsertCARoot(ctx context.Context, r *CARoot) error
	// CARoots lists the roots, by family.
	CARoots(ctx context.Context) ([]*CARoot, error)
	// SetKeyCertificate attaches a certificate and its chain to a key;
	// errs.NotFound if kid is unknown. With onlyIfNone it leaves a key
	// that already has one alone and returns errs.Conflict.
	SetKeyCertificate(ctx context.Context, kid string, cert, chain []byte, source CertSource, onlyIfNone bool) error
	// SealSubject is whom an authority's seal certificates name;
	// errs.NotFound if the authority is unknown.
	SealSubject(ctx context.Context, authority string) (SealSubject, error)
}

// caFamilies are the seal CA's roots, with the algorithm of each root key.
var caFamilies = []struct {
	family string
	alg    Algorithm
}{{"SM2", SM2}, {"P-256", ES256}}

type caRoot struct {
	der    []byte
	signer crypto.Signer
}

// caKey is the record a backend opens a root key from: the family is bound
// as associated data, as an authority is for its seal keys.
func caKey(r *CARoot) *Key {
	alg := ES256
	if r.Family == "SM2" {
		alg = SM2
	}
	return &Key{KID: "seal CA " + r.Family, Authority: "certhub seal CA " + r.Family, Algorithm: alg, Backend: r.Backend, Sealed: r.Sealed}
}

func (m *Manager) caStore() (CAStore, error) {
	if m.ca == nil {
		return nil, errs.E(errs.Internal, "this key store keeps no seal certificates")
	}
	return m.ca, nil
}

// CARoots lists the seal CA's roots; none before InitCA (or the first key).
func (m *Manager) CARoots(ctx context.Context) ([]*CARoot, error) {
	ca, err := m.caStore()
	if err != nil {
		return nil, err
	}
	return ca.CARoots(ctx)
}

// InitCA creates the seal CA roots that do not exist yet (an SM2 root and
// a P-256 root) and reports whether it made any. Replicas starting at once
// are safe: the store keeps one root per family, and a root another
// replica stored first is simply used.
func (m *Manager) InitCA(ctx context.Context) (created bool, err error) {
	ca, err := m.caStore()
	if err != nil {
		return false, err
	}
	have, err := ca.CARoots(ctx)
	if err != nil {
		return false, err
	}
	exists := map[string]bool{}
	for _, r := range have {
		exists[r.Family] = true
	}
	for _, f := range caFamilies {
		if exists[f.family] {
			continue
		}
		b := m.backends[m.defaultB]
		r := &CARoot{Family: f.family, Backend: m.defaultB, CreatedAt: m.now().UTC().Truncate(time.Microsecond)}
		var pub crypto.PublicKey
		if r.Sealed, pub, err = b.Generate(ctx, f.alg, caKey(r).Authority); err != nil {
			return created, errs.Wrap(err, "generate seal CA %s root key", f.family)
		}
		signer, err := b.Signer(ctx, caKey(r))
		if err != nil {
			return created, errs.Wrap(err, "open seal CA %s root key", f.family)
		}
		if !samePublicKey(signer.Public(), pub) {
			return created, errs.E(errs.Internal, "seal CA %s root: backend opened another key than it made", f.family)
		}
		if r.Certificate, err = NewCARoot(signer, m.CAName, r.CreatedAt); err != nil {
			return created, errs.Wrap(err, "seal CA %s root", f.family)
		}
		switch err := ca.InsertCARoot(ctx, r); {
		case err == nil:
			created = true
		case errs.Is(err, errs.Conflict):
			// Another replica was first; its root is the one.
		default:
			return created, err
		}
	}
	return created, nil
}

// root returns the opened root of a family, creating the CA if need be.
func (m *Manager) root(ctx context.Context, family string) (*caRoot, error) {
	m.caMu.Lock()
	defer m.caMu.Unlock()
	if r, ok := m.caRoots[family]; ok {
		return r, nil
	}
	roots, err := m.ca.CARoots(ctx)
	if err != nil {
		return nil, err
	}
	if len(roots) < len(caFamilies) {
		if _, err := m.InitCA(ctx); err != nil {
			return nil, err
		}
		if roots, err = m.ca.CARoots(ctx); err != nil {
			return nil, err
		}
	}
	for _, r := range roots {
		if r.Family != family {
			continue
		}
		b, ok := m.backends[r.Backend]
		if !ok {
			return nil, errs.E(errs.Internal, "seal CA %s root uses backend %q, which is not configured", family, r.Backend)
		}
		s, err := b.Signer(ctx, caKey(r))
		if err != nil {
			return nil, errs.Wrap(err, "open seal CA %s root key", family)
		}
		if m.caRoots == nil {
			m.caRoots = map[string]*caRoot{}
		}
		m.caRoots[family] = &caRoot{der: r.Certificate, signer: s}
		return m.caRoots[family], nil
	}
	return nil, errs.E(errs.Internal, "seal CA has no %s root", family)
}

// certify has the hub's seal CA issue k's certificate (pub is k's public
// key); the issuing root follows it in the chain.
func (m *Manager) certify(ctx context.Context, k *Key, pub crypto.PublicKey) error {
	subject, err := m.ca.SealSubject(ctx, k.Authority)
	if err != nil {
		return err
	}
	root, err := m.root(ctx, caFamily(pub))
	if err != nil {
		return err
	}
	der, err := IssueSealCert(root.der, root.signer, pub, subject, m.now())
	if err != nil {
		return errs.Wrap(err, "issue seal certificate for %s", k.KID)
	}
	k.Certificate, k.CertificateChain, k.CertificateSource = der, root.der, CertHub
	return nil
}

// publicKey is a stored key's public key.
func (m *Manager) publicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	vk, err := m.verifyKey(ctx, kid)
	if err != nil {
		if ve, ok := IsVerifyError(err); ok {
			return nil, errs.E(errs.NotFound, "seal key %s does not exist (%s)", kid, ve.Detail)
		}
		return nil, err
	}
	return vk.key, nil
}

// CertifyKeys issues a hub certificate to every key that has none (keys
// made before the seal CA existed) and says how many it certified. It is
// idempotent and safe on several replicas at once: a key certified
// meanwhile by another keeps that certificate.
func (m *Manager) CertifyKeys(ctx context.Context) (int, error) {
	ca, err := m.caStore()
	if err != nil {
		return 0, err
	}
	keys, err := m.store.ListKeys(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if len(k.Certificate) > 0 {
			continue
		}
		pub, err := m.publicKey(ctx, k.KID)
		if err != nil {
			return n, err
		}
		if err := m.certify(ctx, k, pub); err != nil {
			return n, err
		}
		switch err := ca.SetKeyCertificate(ctx, k.KID, k.Certificate, k.CertificateChain, CertHub, true); {
		case err == nil:
			n++
		case errs.Is(err, errs.Conflict):
		default:
			return n, err
		}
	}
	return n, nil
}

// EnsureCA is what a hub does at start: create the seal CA if there is
// none, then certify the keys that have no certificate.
func (m *Manager) EnsureCA(ctx context.Context) (createdCA bool, certified int, err error) {
	if createdCA, err = m.InitCA(ctx); err != nil {
		return createdCA, 0, err
	}
	certified, err = m.CertifyKeys(ctx)
	return createdCA, certified, err
}

// CSR makes a PEM certificate signing request for a seal key, for an
// external CA; the private key stays with its backend.
func (m *Manager) CSR(ctx context.Context, kid string) ([]byte, error) {
	ca, err := m.caStore()
	if err != nil {
		return nil, err
	}
	k, err := m.store.GetKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	subject, err := ca.SealSubject(ctx, k.Authority)
	if err != nil {
		return nil, err
	}
	s, err := m.signer(ctx, k)
	if err != nil {
		return nil, err
	}
	der, err := SealCSR(s, subject)
	if err != nil {
		return nil, errs.Wrap(err, "seal key %s", kid)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ImportCertificate attaches to a seal key a certificate (PEM or DER)
// from an external CA, with an optional chain (PEM or DER certificates,
// the issuer first) to publish after it in x5c. The certificate must
// certify exactly this key and be valid now; its issuer need not be the
// hub's CA, and it is recorded as external unless the hub's CA signed it.
// Bad input is errs.Invalid naming "certificate" or "chain"; nothing is
// stored then.
func (m *Manager) ImportCertificate(ctx context.Context, kid string, cert, chain []byte) (*Key, error) {
	ca, err := m.caStore()
	if err != nil {
		return nil, err
	}
	k, err := m.store.GetKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	pub, err := m.publicKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	der, err := CheckSealCert("certificate", cert, pub, nil, m.now())
	if err != nil {
		return nil, err
	}
	chainDER, err := parseChain("chain", chain)
	if err != nil {
		return nil, err
	}
	leaf, _ := smx509.ParseCertificate(der) // parsed by CheckSealCert
	if len(chainDER) > 0 {
		issuer, _ := smx509.ParseCertificate(chainDER[0])
		if leaf.CheckSignatureFrom(issuer) != nil {
			return nil, errs.Field("chain", "its first certificate (%s) did not sign the certificate", issuer.Subject)
		}
	}
	source := CertExternal
	roots, err := ca.CARoots(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		if rc, err := smx509.ParseCertificate(r.Certificate); err == nil && leaf.CheckSignatureFrom(rc) == nil {
			source = CertHub
		}
	}
	k.Certificate, k.CertificateChain, k.CertificateSource = der, bytes.Join(chainDER, nil), source
	if err := ca.SetKeyCertificate(ctx, kid, k.Certificate, k.CertificateChain, source, false); err != nil {
		return nil, err
	}
	return k, nil
}

// parseChain reads PEM CERTIFICATE blocks, or DER certificates.
func parseChain(field string, raw []byte) ([][]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	var out [][]byte
	if bytes.HasPrefix(raw, []byte("-----BEGIN")) {
		for rest := raw; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return nil, errs.Field(field, "PEM block is %q, want CERTIFICATE", b.Type)
			}
			if _, err := smx509.ParseCertificate(b.Bytes); err != nil {
				return nil, errs.Field(field, "certificate %d is not an X.509 certificate: %v", len(out)+1, err)
			}
			out = append(out, b.Bytes)
		}
		if len(out) == 0 {
			return nil, errs.Field(field, "holds no PEM certificate")
		}
		return out, nil
	}
	cs, err := smx509.ParseCertificates(raw)
	if err != nil {
		return nil, errs.Field(field, "is not PEM or DER X.509 certificates: %v", err)
	}
	for _, c := range cs {
		out = append(out, c.Raw)
	}
	return out, nil
}

// CertificateChain is a key's certificate followed by its chain, DER, in
// x5c order; nil if the key has no certificate.
func CertificateChain(k *Key) ([][]byte, error) {
	if len(k.Certificate) == 0 {
		return nil, nil
	}
	out := [][]byte{k.Certificate}
	if len(k.CertificateChain) > 0 {
		cs, err := smx509.ParseCertificates(k.CertificateChain)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, c.Raw)
		}
	}
	return out, nil
}

// withX5C is a key's public JWK with its certificate chain in x5c (RFC
// 7517 §4.7: standard base64 DER, the key's certificate first), SM2 keys
// included: an SM2 certificate is an X.509 certificate. Go's crypto/x509
// cannot parse SM2 certificates, and jwx validates every x5c with it, so a
// Go client on jwx reads only the other keys (the JWKS endpoint's ?alg=
// filter serves it a set it can parse: docs/sm2.md); such a client could
// not read an SM2 JWK (crv "SM2") without registering the curve anyway.
func withX5C(k *Key) (json.RawMessage, error) {
	chain, err := CertificateChain(k)
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(k.PublicJWK, &members); err != nil {
		return nil, err
	}
	x5c := make([]string, len(chain))
	for i, d := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(d)
	}
	b, err := json.Marshal(x5c)
	if err != nil {
		return nil, err
	}
	members["x5c"] = b
	return json.Marshal(members)
}

// TrustedRootsPEM is every root the hub trusts for seals, as PEM: its own
// seal CA roots, then the self-signed roots that imported chains end in.
func (m *Manager) TrustedRootsPEM(ctx context.Context) ([]byte, error) {
	roots, err := m.CARoots(ctx)
	if err != nil {
		return nil, err
	}
	var ders [][]byte
	seen := map[string]bool{}
	add := func(d []byte) {
		if !seen[string(d)] {
			seen[string(d)] = true
			ders = append(ders, d)
		}
	}
	for _, r := range roots {
		add(r.Certificate)
	}
	keys, err := m.store.ListKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.CertificateSource != CertExternal || len(k.CertificateChain) == 0 {
			continue
		}
		cs, err := smx509.ParseCertificates(k.CertificateChain)
		if err != nil || len(cs) == 0 {
			continue
		}
		last := cs[len(cs)-1]
		if bytes.Equal(last.RawIssuer, last.RawSubject) && last.CheckSignatureFrom(last) == nil {
			add(last.Raw)
		}
	}
	return CertPEM(ders...), nil
}
