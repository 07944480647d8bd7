package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/internal/errs"
)

// memKeys is a KeyStore for the manager's unit tests; the SQL stores pass the
// same contract in internal/storetest.
type memKeys struct {
	mu   sync.Mutex
	keys []*Key
}

func (s *memKeys) active(authority string, match func(*Key) bool) *Key {
	for _, k := range s.keys {
		if k.Authority == authority && k.Status == KeyActive && match(k) {
			return k
		}
	}
	return nil
}

func (s *memKeys) InsertKey(_ context.Context, k *Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.Status == KeyActive && s.active(k.Authority, func(o *Key) bool { return o.Algorithm == k.Algorithm }) != nil {
		return errs.E(errs.Conflict, "active %s key exists", k.Algorithm)
	}
	k.Documents = k.Status == KeyActive && s.active(k.Authority, func(o *Key) bool { return o.Documents }) == nil
	s.keys = append(s.keys, k)
	return nil
}

func (s *memKeys) RotateKey(_ context.Context, authority string, next *Key, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.active(authority, func(o *Key) bool { return o.Algorithm == next.Algorithm })
	if old == nil {
		old = s.active(authority, func(o *Key) bool { return o.Documents })
	}
	next.Documents = old == nil || old.Documents
	if old != nil {
		old.Status, old.RetiredAt, old.Documents = KeyRetired, &at, false
	}
	s.keys = append(s.keys, next)
	return nil
}

func (s *memKeys) ActiveKey(_ context.Context, authority string) (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.active(authority, func(o *Key) bool { return o.Documents }); k != nil {
		return k, nil
	}
	return nil, errs.E(errs.NotFound, "no active key")
}

func (s *memKeys) SetDocumentKey(_ context.Context, authority string, alg Algorithm) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.active(authority, func(o *Key) bool { return o.Algorithm == alg })
	if k == nil {
		return errs.E(errs.NotFound, "no active %s key", alg)
	}
	if cur := s.active(authority, func(o *Key) bool { return o.Documents }); cur != nil {
		cur.Documents = false
	}
	k.Documents = true
	return nil
}

func (s *memKeys) GetKey(_ context.Context, kid string) (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.KID == kid {
			return k, nil
		}
	}
	return nil, errs.E(errs.NotFound, "no key %s", kid)
}

func (s *memKeys) MarkCompromised(_ context.Context, kid string, from time.Time, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.KID == kid {
			if k.CompromisedFrom == nil || from.Before(*k.CompromisedFrom) {
				k.CompromisedFrom = &from
			}
			k.CompromiseReason = reason
			return nil
		}
	}
	return errs.E(errs.NotFound, "no key %s", kid)
}

func (s *memKeys) ListKeys(_ context.Context, authority string) ([]*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Key
	for _, k := range s.keys {
		if authority == "" || k.Authority == authority {
			out = append(out, k)
		}
	}
	return out, nil
}

func newTestManager(t *testing.T, master *MasterKey, store KeyStore) *Manager {
	t.Helper()
	m, err := NewManager(store, map[string]Backend{"local": NewLocalBackend(master)}, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSealVerifyRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, alg := range []Algorithm{ES256, EdDSA, SM2} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			master, _ := GenerateMasterKey()
			store := &memKeys{}
			m := newTestManager(t, master, store)
			if _, err := m.CreateKey(ctx, "AUTH", alg); err != nil {
				t.Fatal(err)
			}
			payload := []byte(`{"id":"x","credentialSubject":{"name":"张三"}}`)
			doc, kid, err := m.Seal(ctx, "AUTH", payload)
			if err != nil {
				t.Fatal(err)
			}
			v, err := m.Verify(ctx, doc)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if string(v.Payload) != string(payload) || v.KID != kid || v.Authority != "AUTH" || v.Algorithm != alg {
				t.Fatalf("Verify = %+v", v)
			}

			// Any standard JOSE library verifies it against the published JWKS.
			set, err := m.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := jwk.Parse(set)
			if err != nil {
				t.Fatalf("JWKS does not parse: %v\n%s", err, set)
			}
			if _, err := jws.Verify(doc, jws.WithKeySet(ks, jws.WithRequireKid(true))); err != nil {
				t.Fatalf("jws.Verify with JWKS: %v", err)
			}

			// Tampering with the payload breaks the signature.
			parts := strings.Split(string(doc), ".")
			parts[1] = parts[1][:len(parts[1])-2] + "AA"
			if _, err := m.Verify(ctx, []byte(strings.Join(parts, "."))); !isReason(err, ReasonBadSignature) {
				t.Fatalf("tampered: err = %v, want bad_signature", err)
			}

			// After rotation new documents use the new key and old ones verify.
			nk, err := m.Rotate(ctx, "AUTH", "")
			if err != nil {
				t.Fatal(err)
			}
			if nk.KID == kid || nk.Algorithm != alg {
				t.Fatalf("rotated key = %+v", nk)
			}
			doc2, kid2, _ := m.Seal(ctx, "AUTH", payload)
			if kid2 != nk.KID {
				t.Fatalf("sealed with %s after rotation, want %s", kid2, nk.KID)
			}
			for _, d := range [][]byte{doc, doc2} {
				if _, err := m.Verify(ctx, d); err != nil {
					t.Fatalf("verify after rotation: %v", err)
				}
			}
			set, _ = m.JWKS(ctx)
			var parsed struct{ Keys []map[string]any }
			_ = json.Unmarshal(set, &parsed)
			if len(parsed.Keys) != 2 || parsed.Keys[0]["use"] != "sig" || parsed.Keys[0]["alg"] != alg.JWSAlgorithm() {
				t.Fatalf("JWKS after rotation = %s", set)
			}
			for _, k := range parsed.Keys {
				if _, ok := k["d"]; ok {
					t.Fatal("JWKS leaks a private key")
				}
			}

			// A manager with another master key cannot open the seal keys.
			other, _ := GenerateMasterKey()
			if _, _, err := newTestManager(t, other, store).Seal(ctx, "AUTH", payload); err == nil {
				t.Fatal("sealed with the wrong master key")
			}
		})
	}
}

// TestKeysPerAlgorithm: an authority holds one active key per algorithm;
// its document key seals its JWS documents; rotation replaces the key of
// an algorithm in place, or switches the document key to a new algorithm.
func TestKeysPerAlgorithm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})
	sealAlg := func() string {
		t.Helper()
		doc, _, err := m.Seal(ctx, "AUTH", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Verify(ctx, doc); err != nil {
			t.Fatal(err)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(doc), ".")[0])
		var h struct{ Alg string }
		_ = json.Unmarshal(hdr, &h)
		return h.Alg
	}
	active := func() map[Algorithm]*Key {
		t.Helper()
		keys, _ := m.Keys(ctx, "AUTH")
		out := map[Algorithm]*Key{}
		for _, k := range keys {
			if k.Status == KeyActive {
				if out[k.Algorithm] != nil {
					t.Fatalf("two active %s keys", k.Algorithm)
				}
				out[k.Algorithm] = k
			}
		}
		return out
	}
	first, err := m.CreateKey(ctx, "AUTH", ES256)
	if err != nil || !first.Documents {
		t.Fatalf("first key %+v, %v", first, err)
	}
	sm, err := m.AddKey(ctx, "AUTH", SM2)
	if err != nil || sm.Documents || sealAlg() != "ES256" {
		t.Fatalf("added SM2 key %+v, %v: documents must stay ES256", sm, err)
	}
	if _, err := m.AddKey(ctx, "AUTH", SM2); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second active SM2 key: %v", err)
	}
	if err := m.SetDocumentAlgorithm(ctx, "AUTH", EdDSA); !errs.Is(err, errs.Invalid) {
		t.Fatalf("document algorithm without a key: %v", err)
	}
	if err := m.SetDocumentAlgorithm(ctx, "AUTH", SM2); err != nil || sealAlg() != "SM2SM3" {
		t.Fatalf("SetDocumentAlgorithm(SM2): %v", err)
	}
	// Rotating the document key keeps documents on its algorithm.
	if k, err := m.Rotate(ctx, "AUTH", ""); err != nil || k.Algorithm != SM2 || !k.Documents || k.KID == sm.KID {
		t.Fatalf("rotate document key: %+v, %v", k, err)
	}
	// Rotating the other key leaves documents alone.
	if k, err := m.Rotate(ctx, "AUTH", ES256); err != nil || k.Documents || k.KID == first.KID || sealAlg() != "SM2SM3" {
		t.Fatalf("rotate ES256: %+v, %v", k, err)
	}
	if a := active(); len(a) != 2 || a[SM2] == nil || a[ES256] == nil {
		t.Fatalf("active keys = %v", a)
	}
	// Rotating to an algorithm it has no key of replaces the document key.
	if k, err := m.Rotate(ctx, "AUTH", EdDSA); err != nil || !k.Documents || sealAlg() != "EdDSA" {
		t.Fatalf("rotate to EdDSA: %+v, %v", k, err)
	}
	keys, _ := m.Keys(ctx, "AUTH")
	if a := active(); len(a) != 2 || a[EdDSA] == nil || a[ES256] == nil || DocumentAlgorithm(keys) != EdDSA {
		t.Fatalf("after switching: %v", a)
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})
	tests := []struct{ name, doc, reason string }{
		{"empty", "", ReasonMalformed},
		{"no dots", "abc", ReasonMalformed},
		{"header not base64", "!!!.e30.AA", ReasonMalformed},
		{"header not json", "bm90IGpzb24.e30.AA", ReasonMalformed},
		{"no kid", "eyJhbGciOiJFUzI1NiJ9.e30.AA", ReasonMalformed},
		{"unknown kid", "eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vcGUifQ.e30.AA", ReasonUnknownKey},
	}
	for _, tt := range tests {
		if _, err := m.Verify(context.Background(), []byte(tt.doc)); !isReason(err, tt.reason) {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.reason)
		}
	}
}

func TestVault(t *testing.T) {
	t.Parallel()
	master, _ := GenerateMasterKey()
	v := NewVault(master)
	if v.Index("person", "11010519491231002X") != v.Index("person", "11010519491231002X") {
		t.Fatal("index not deterministic")
	}
	if v.Index("person", "X") == v.Index("organisation", "X") {
		t.Fatal("kind not part of the index")
	}
	other, _ := GenerateMasterKey()
	if NewVault(other).Index("person", "X") == v.Index("person", "X") {
		t.Fatal("index does not depend on the master key")
	}
	sealed := v.Seal("person", "11010519491231002X")
	if strings.Contains(string(sealed), "11010519491231002X") {
		t.Fatal("sealed value contains the clear id")
	}
	if got, err := v.Open("person", sealed); err != nil || got != "11010519491231002X" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := v.Open("organisation", sealed); err == nil {
		t.Fatal("opened with the wrong kind")
	}
	if m2, err := ParseMasterKey(master.String()); err != nil || m2.String() != master.String() {
		t.Fatalf("master key round trip: %v", err)
	}
	if _, err := ParseMasterKey("short"); err == nil {
		t.Fatal("short master key accepted")
	}
}

func isReason(err error, reason string) bool {
	ve, ok := IsVerifyError(err)
	return ok && ve.Reason == reason
}

// TestLedgerKeyAnyMaster derives ledger keys from many master keys; some
// verifier keys contain '+' in their base64, which must not matter.
func TestLedgerKeyAnyMaster(t *testing.T) {
	t.Parallel()
	for i := 0; i < 200; i++ {
		m, _ := GenerateMasterKey()
		k, err := NewLedgerKey(m, "certhub.test/ledger")
		if err != nil {
			t.Fatalf("master %d: %v", i, err)
		}
		again, _ := NewLedgerKey(m, "certhub.test/ledger")
		if again.VerifierKey != k.VerifierKey {
			t.Fatal("the ledger key is not stable for one master key")
		}
	}
}

// TestSealerMatchesJWSSign: the sealer builds its header once and signs
// through jwx's building blocks. Its documents must carry the header
// jws.Sign writes for the same key, byte for byte, and verify with
// jws.Verify, for every algorithm a document key can have.
func TestSealerMatchesJWSSign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})
	for _, alg := range []Algorithm{ES256, EdDSA, SM2} {
		authority := "AUTH-" + string(alg)
		k, err := m.CreateKey(ctx, authority, alg)
		if err != nil {
			t.Fatal(err)
		}
		seal, err := m.Sealer(ctx, authority)
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte(`{"vc":{"credentialSubject":{"name":"杭州某某餐饮有限公司"}}}`)
		doc, kid, err := seal(payload)
		if err != nil || kid != k.KID {
			t.Fatalf("%s: seal: %v (kid %s)", alg, err, kid)
		}
		signer, err := m.signer(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, k.KID)
		_ = h.Set(jws.TypeKey, "vc+jwt")
		_ = h.Set(jws.ContentTypeKey, "vc")
		want, err := jws.Sign(payload, jws.WithKey(alg.jwa(), signer, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		got, wantParts := strings.Split(string(doc), "."), strings.Split(string(want), ".")
		if len(got) != 3 || got[0] != wantParts[0] || got[1] != wantParts[1] {
			t.Fatalf("%s: sealer wrote %s.%s, jws.Sign %s.%s", alg, got[0], got[1], wantParts[0], wantParts[1])
		}
		pub, err := jwk.Import(signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		out, err := jws.Verify(doc, jws.WithKey(alg.jwa(), pub))
		if err != nil || string(out) != string(payload) {
			t.Fatalf("%s: jws.Verify: %v", alg, err)
		}
		if v, err := m.Verify(ctx, doc); err != nil || v.KID != k.KID {
			t.Fatalf("%s: Verify: %v", alg, err)
		}
	}
}
