// Package storetest is the conformance suite of the SQL stores: every
// implementation of certificates.Store, signing.KeyStore and
// exchange.TokenStore runs RunTests, so the embedded default and PostgreSQL
// behave the same.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// RunTests runs the suite; newStore returns a fresh, empty, migrated store.
func RunTests(t *testing.T, newStore func(t *testing.T) *sqlstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *sqlstore.Store)
	}{
		{"Catalog", testCatalog},
		{"Serials", testSerials},
		{"CertificateRoundTrip", testCertificateRoundTrip},
		{"Idempotency", testIdempotency},
		{"Lifecycle", testLifecycle},
		{"Find", testFind},
		{"Keys", testKeys},
		{"Tokens", testTokens},
		{"Registry", testRegistry},
		{"AgreementSuspension", testAgreementSuspension},
		{"Events", testEvents}, {"EventGaps", testEventGaps},
		{"ServiceItems", testItems},
		{"ResolutionsByConsumer", testResolutionsByConsumer}, {"CaseWithLedger", testCaseWithLedger},
		{"Shares", testShares},
		{"BatchInsertAndOrigins", testBatchInsert},
		{"DocumentLocations", testDocumentLocations},
		{"EveryDocumentReadsBack", testEveryDocumentReadsBack},
		{"AuditLedger", testLedger},
		{"LedgerHolderIndex", testLedgerHolder}, {"LedgerArchive", testLedgerArchive},
		{"SealImages", testSeals},
		{"SealCA", testSealCA}, {"SealCAReplicas", testSealCAReplicas},
		{"TypeTemplates", testTemplates},
		{"AnnotatedCopies", testAnnotations},
		{"KeyCompromise", testKeyCompromise},
		{"StatusAllocation", testStatusAllocation}, {"StatusReplicas", testStatusReplicas},
		{"StatusEntries", testStatusEntries}, {"StatusIssuance", testStatusIssuance},
		{"Federation", testFederation}, {"Aggregation", testAggregation}, {"AggregationBackfill", testAggregationBackfill},
		{"HubKeys", testHubKeys}, {"FederatedTypes", testFederatedTypes},
		{"BackfillCorrects", testBackfillCorrects}, {"BackfillRestart", testBackfillRestart},
		{"ReferencedKeys", testReferencedKeys}, {"OrphanLease", testOrphanLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// stale marks the reads a read replica may answer (lookups, lists,
// reports), as the API does: run over a store with a replica
// (internal/postgres TestConformanceThroughReplica), they read from it.
func stale(ctx context.Context) context.Context { return certificates.WithStaleReads(ctx) }

// Fixed, valid codes used throughout.
const (
	authCode = "11100000000000000" + "2"
	typeCode = authCode + "001"
)

var (
	t0 = time.Date(2026, 3, 1, 8, 30, 15, 123456000, time.UTC)
)

func mustCode(t *testing.T, code errs.Code, err error) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("err = %v (code %q), want code %q", err, errs.CodeOf(err), code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// SeedCatalog creates the authority, certificate type and seal key NewCert
// refers to.
func SeedCatalog(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateAuthority(ctx, &certificates.Authority{Code: authCode, Name: "某市市场监督管理局", CreatedAt: t0}))
	days := 1825
	must(t, s.CreateType(ctx, &certificates.Type{Code: typeCode, Name: "食品经营许可证", DefiningAuthority: authCode,
		HolderKind: certificates.Organisation, MaxValidityDays: &days, CreatedAt: t0,
		Fields: []certificates.Field{{Name: "address", Label: "经营场所", Type: certificates.FieldString, Required: true, Shareable: true}}}))
	must(t, s.InsertKey(ctx, &signing.Key{KID: "kid-1", Authority: authCode, Algorithm: signing.ES256, PublicJWK: []byte(`{"kty":"EC"}`),
		Backend: "local", Sealed: []byte{1, 2, 3}, Status: signing.KeyActive, CreatedAt: t0}))
}

func testCatalog(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, err := s.GetAuthority(ctx, authCode)
	mustCode(t, errs.NotFound, err)
	SeedCatalog(t, s)
	mustCode(t, errs.Conflict, s.CreateAuthority(ctx, &certificates.Authority{Code: authCode, Name: "again", CreatedAt: t0}))
	a, err := s.GetAuthority(ctx, authCode)
	must(t, err)
	if a.Name != "某市市场监督管理局" || !a.CreatedAt.Equal(t0) {
		t.Fatalf("authority = %+v", a)
	}
	as, err := s.ListAuthorities(ctx)
	must(t, err)
	if len(as) != 1 {
		t.Fatalf("ListAuthorities = %d", len(as))
	}
	ty, err := s.GetType(ctx, typeCode)
	must(t, err)
	if ty.Name != "食品经营许可证" || ty.HolderKind != certificates.Organisation || *ty.MaxValidityDays != 1825 ||
		len(ty.Fields) != 1 || !ty.Fields[0].Required || !ty.Fields[0].Shareable || ty.Fields[0].Label != "经营场所" {
		t.Fatalf("type = %+v", ty)
	}
	mustCode(t, errs.Conflict, s.CreateType(ctx, ty))
	_, err = s.GetType(ctx, authCode+"999")
	mustCode(t, errs.NotFound, err)
	ts, err := s.ListTypes(ctx)
	must(t, err)
	if len(ts) != 1 || ts[0].MaxValidityDays == nil {
		t.Fatalf("ListTypes = %+v", ts)
	}
}

func testSerials(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	// Concurrent allocations never hand out the same serial.
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				n, err := s.NextSerial(ctx, typeCode, authCode)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("serial %d handed out twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := int64(1); i <= 80; i++ {
		if !seen[i] {
			t.Fatalf("serial %d skipped", i)
		}
	}
	if n, _ := s.NextSerial(ctx, typeCode, "other"); n != 1 {
		t.Fatalf("another issuer starts at %d, want 1", n)
	}
}

// NewCert builds a certificate version with the given serial and version.
func NewCert(serial string, version int, holderIndex string) *certificates.Certificate {
	ident := certificates.Identifier{TypeCode: typeCode, Issuer: authCode, Serial: serial, Version: version}
	from, _ := certificates.ParseDate("2026-01-01")
	until, _ := certificates.ParseDate("2030-12-31")
	return &certificates.Certificate{
		ID: ident.String(), Ident: ident, Type: typeCode, Authority: authCode, Serial: serial, Version: version,
		Holder:      certificates.Holder{Kind: certificates.Organisation, Name: "某某餐饮有限公司"},
		HolderIndex: holderIndex, HolderSealed: []byte("sealed:" + holderIndex),
		Data:      map[string]any{"address": "人民路1号", "seats": json.Number("42"), "chain": true},
		ValidFrom: from, ValidUntil: until, State: certificates.StateValid,
		DocumentKey: "documents/" + serial, DocumentSHA256: "ab", KID: "kid-1", IssuedAt: t0, UpdatedAt: t0,
	}
}

func testCertificateRoundTrip(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "h1")
	c.ValidUntil = certificates.Date{}
	must(t, s.InsertCertificate(ctx, c, nil))
	if c.Seq == 0 {
		t.Fatal("Seq not set")
	}
	mustCode(t, errs.Conflict, s.InsertCertificate(ctx, NewCert("000001", 1, "h1"), nil))
	got, err := s.GetCertificate(ctx, c.ID)
	must(t, err)
	if got.ID != c.ID || got.Version != 1 || got.Serial != "000001" || got.Holder != c.Holder || got.HolderIndex != "h1" ||
		string(got.HolderSealed) != "sealed:h1" || got.ValidFrom.String() != "2026-01-01" || !got.ValidUntil.IsZero() ||
		got.State != certificates.StateValid || got.KID != "kid-1" || !got.IssuedAt.Equal(t0) || got.Seq != c.Seq {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	if got.Data["address"] != "人民路1号" || got.Data["seats"] != json.Number("42") || got.Data["chain"] != true {
		t.Fatalf("data = %#v", got.Data)
	}
	_, err = s.GetCertificate(ctx, NewCert("000009", 1, "x").ID)
	mustCode(t, errs.NotFound, err)
}

func testIdempotency(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "h1")
	rec := &certificates.Idempotency{Principal: "tok", Key: "k1", RequestHash: "rh", CertificateID: c.ID, CreatedAt: t0}
	must(t, s.InsertCertificate(ctx, c, rec))
	got, err := s.GetIdempotency(ctx, "tok", "k1")
	must(t, err)
	if got.CertificateID != c.ID || got.RequestHash != "rh" {
		t.Fatalf("idempotency = %+v", got)
	}
	// The same key again: conflict, and the second certificate is not stored.
	c2 := NewCert("000002", 1, "h1")
	rec2 := *rec
	rec2.CertificateID = c2.ID
	mustCode(t, errs.Conflict, s.InsertCertificate(ctx, c2, &rec2))
	_, err = s.GetCertificate(ctx, c2.ID)
	mustCode(t, errs.NotFound, err)
	_, err = s.GetIdempotency(ctx, "other", "k1")
	mustCode(t, errs.NotFound, err)
}

func testLifecycle(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	v1 := NewCert("000001", 1, "h1")
	must(t, s.InsertCertificate(ctx, v1, nil))
	later := t0.Add(time.Hour)

	c, err := s.SetState(ctx, v1.ID, []certificates.State{certificates.StateValid}, certificates.StateSuspended, "检查不合格", later, nil)
	must(t, err)
	if c.State != certificates.StateSuspended || c.StateReason != "检查不合格" || !c.UpdatedAt.Equal(later) {
		t.Fatalf("after suspend: %+v", c)
	}
	_, err = s.SetState(ctx, v1.ID, []certificates.State{certificates.StateValid}, certificates.StateSuspended, "again", later, nil)
	mustCode(t, errs.Conflict, err)
	_, err = s.SetState(ctx, NewCert("000099", 1, "x").ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "r", later, nil)
	mustCode(t, errs.NotFound, err)

	v2 := NewCert("000001", 2, "h1")
	v2.State = certificates.StateSuspended
	must(t, s.Supersede(ctx, v1.ID, v2))
	old, err := s.GetCertificate(ctx, v1.ID)
	must(t, err)
	if old.State != certificates.StateSuperseded || old.SupersededBy != v2.ID {
		t.Fatalf("old version after supersede: %+v", old)
	}
	// Superseding a version that is no longer current fails and stores nothing.
	v3 := NewCert("000001", 3, "h1")
	mustCode(t, errs.Conflict, s.Supersede(ctx, v1.ID, v3))
	_, err = s.GetCertificate(ctx, v3.ID)
	mustCode(t, errs.NotFound, err)

	c, err = s.SetState(ctx, v2.ID, []certificates.State{certificates.StateValid, certificates.StateSuspended}, certificates.StateRevoked, "吊销", later, nil)
	must(t, err)
	if c.State != certificates.StateRevoked {
		t.Fatalf("after revoke: %+v", c)
	}
}

func testFind(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	today, _ := certificates.ParseDate("2027-06-01")
	var ids []string
	for i := 1; i <= 7; i++ {
		c := NewCert(fmt.Sprintf("%06d", i), 1, "alice")
		if i == 7 {
			c.HolderIndex = "bob"
		}
		switch i {
		case 2:
			c.State = certificates.StateSuspended
		case 3:
			c.State = certificates.StateRevoked
		case 4:
			c.ValidUntil, _ = certificates.ParseDate("2027-05-31") // expired on today
		case 5:
			c.State = certificates.StateSuperseded
		}
		must(t, s.InsertCertificate(ctx, c, nil))
		ids = append(ids, c.ID)
	}
	find := func(q certificates.Query) []string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		q.Today = today
		got, _, err := s.FindCertificates(stale(ctx), q)
		must(t, err)
		var out []string
		for _, c := range got {
			out = append(out, c.Serial)
		}
		return out
	}
	tests := []struct {
		name string
		q    certificates.Query
		want string
	}{
		{"holder, current versions", certificates.Query{HolderIndex: "alice"}, "[000001 000002 000003 000004 000006]"},
		{"valid", certificates.Query{HolderIndex: "alice", Status: certificates.StatusValid}, "[000001 000006]"},
		{"suspended", certificates.Query{HolderIndex: "alice", Status: certificates.StatusSuspended}, "[000002]"},
		{"revoked", certificates.Query{HolderIndex: "alice", Status: certificates.StatusRevoked}, "[000003]"},
		{"expired", certificates.Query{HolderIndex: "alice", Status: certificates.StatusExpired}, "[000004]"},
		{"superseded", certificates.Query{Status: certificates.StatusSuperseded}, "[000005]"},
		{"other holder", certificates.Query{HolderIndex: "bob"}, "[000007]"},
		{"type and authority", certificates.Query{Type: typeCode, Authority: authCode, HolderIndex: "bob"}, "[000007]"},
		{"unknown type", certificates.Query{Type: authCode + "002"}, "[]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(find(tt.q)); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	// Paging walks every row once, in order.
	var all []string
	var cursor int64
	for page := 0; page < 10; page++ {
		got, next, err := s.FindCertificates(stale(ctx), certificates.Query{Today: today, After: cursor, Limit: 2})
		must(t, err)
		for _, c := range got {
			all = append(all, c.Serial)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if fmt.Sprint(all) != "[000001 000002 000003 000004 000006 000007]" {
		t.Fatalf("paging = %v", all)
	}
}

func testKeys(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	k, err := s.ActiveKey(ctx, authCode)
	must(t, err)
	if k.KID != "kid-1" || string(k.Sealed) != "\x01\x02\x03" || k.RetiredAt != nil || string(k.PublicJWK) != `{"kty":"EC"}` {
		t.Fatalf("active key = %+v", k)
	}
	// A second active key for the same authority is refused.
	mustCode(t, errs.Conflict, s.InsertKey(ctx, &signing.Key{KID: "kid-x", Authority: authCode, Algorithm: signing.ES256,
		PublicJWK: []byte(`{}`), Backend: "local", Sealed: []byte{1}, Status: signing.KeyActive, CreatedAt: t0}))
	at := t0.Add(time.Minute)
	must(t, s.RotateKey(ctx, authCode, &signing.Key{KID: "kid-2", Authority: authCode, Algorithm: signing.EdDSA,
		PublicJWK: []byte(`{}`), Backend: "local", Sealed: []byte{4}, Status: signing.KeyActive, CreatedAt: at}, at))
	k, err = s.ActiveKey(ctx, authCode)
	must(t, err)
	if k.KID != "kid-2" || k.Algorithm != signing.EdDSA {
		t.Fatalf("active after rotate = %+v", k)
	}
	old, err := s.GetKey(ctx, "kid-1")
	must(t, err)
	if old.Status != signing.KeyRetired || old.RetiredAt == nil || !old.RetiredAt.Equal(at) {
		t.Fatalf("retired key = %+v", old)
	}
	_, err = s.GetKey(ctx, "nope")
	mustCode(t, errs.NotFound, err)
	_, err = s.ActiveKey(ctx, "nobody")
	mustCode(t, errs.NotFound, err)
	for _, auth := range []string{"", authCode} {
		ks, err := s.ListKeys(ctx, auth)
		must(t, err)
		if len(ks) != 2 || ks[0].KID != "kid-1" || ks[1].KID != "kid-2" {
			t.Fatalf("ListKeys(%q) = %d keys", auth, len(ks))
		}
	}
	ks, _ := s.ListKeys(ctx, "nobody")
	if len(ks) != 0 {
		t.Fatalf("ListKeys(nobody) = %d", len(ks))
	}
	testKeysPerAlgorithm(t, s)
}

// testKeysPerAlgorithm: one active key per algorithm; the store decides
// which active key seals documents. The authority holds kid-2 (EdDSA, the
// document key) when it starts.
func testKeysPerAlgorithm(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	key := func(kid string, alg signing.Algorithm, at time.Time) *signing.Key {
		return &signing.Key{KID: kid, Authority: authCode, Algorithm: alg, PublicJWK: []byte(`{}`), Backend: "local",
			Sealed: []byte{9}, Status: signing.KeyActive, CreatedAt: at, Documents: true}
	}
	docKey := func() string {
		t.Helper()
		k, err := s.ActiveKey(ctx, authCode)
		must(t, err)
		if !k.Documents || k.Status != signing.KeyActive {
			t.Fatalf("document key = %+v", k)
		}
		return k.KID
	}
	// A key of another algorithm goes beside the document key, not over it
	// (whatever the caller put in Documents).
	sm := key("kid-sm2", signing.SM2, t0.Add(2*time.Minute))
	must(t, s.InsertKey(ctx, sm))
	if sm.Documents || docKey() != "kid-2" {
		t.Fatalf("added SM2 key documents=%v, document key %s", sm.Documents, docKey())
	}
	got, err := s.GetKey(ctx, "kid-sm2")
	must(t, err)
	if got.Algorithm != signing.SM2 || got.Documents || got.Status != signing.KeyActive {
		t.Fatalf("stored SM2 key = %+v", got)
	}
	mustCode(t, errs.Conflict, s.InsertKey(ctx, key("kid-sm2b", signing.SM2, t0.Add(3*time.Minute))))

	mustCode(t, errs.NotFound, s.SetDocumentKey(ctx, authCode, signing.ES256))
	must(t, s.SetDocumentKey(ctx, authCode, signing.SM2))
	if docKey() != "kid-sm2" {
		t.Fatal("SetDocumentKey(SM2) did not move the document key")
	}
	must(t, s.SetDocumentKey(ctx, authCode, signing.SM2)) // already: no change
	// Rotating the EdDSA key (not the document key) keeps it beside.
	at := t0.Add(4 * time.Minute)
	ed := key("kid-ed2", signing.EdDSA, at)
	must(t, s.RotateKey(ctx, authCode, ed, at))
	if ed.Documents || docKey() != "kid-sm2" {
		t.Fatalf("rotated EdDSA key documents=%v, document key %s", ed.Documents, docKey())
	}
	if old, _ := s.GetKey(ctx, "kid-2"); old.Status != signing.KeyRetired || old.Documents {
		t.Fatalf("replaced EdDSA key = %+v", old)
	}
	// Rotating to an algorithm it has no key of replaces the document key.
	at = t0.Add(5 * time.Minute)
	es := key("kid-es2", signing.ES256, at)
	must(t, s.RotateKey(ctx, authCode, es, at))
	if !es.Documents || docKey() != "kid-es2" {
		t.Fatalf("switched to ES256: documents=%v, document key %s", es.Documents, docKey())
	}
	if old, _ := s.GetKey(ctx, "kid-sm2"); old.Status != signing.KeyRetired || old.RetiredAt == nil || !old.RetiredAt.Equal(at) {
		t.Fatalf("replaced document key = %+v", old)
	}
	active := map[string]bool{}
	ks, err := s.ListKeys(ctx, authCode)
	must(t, err)
	for _, k := range ks {
		if k.Status == signing.KeyActive {
			active[k.KID] = k.Documents
		}
	}
	if len(active) != 2 || !active["kid-es2"] || active["kid-ed2"] {
		t.Fatalf("active keys (kid: documents) = %v", active)
	}
	must(t, s.SetDocumentKey(ctx, authCode, signing.EdDSA))
	if docKey() != "kid-ed2" {
		t.Fatal("SetDocumentKey(EdDSA)")
	}
}

func testTokens(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	_, hash := exchange.NewSecret()
	tok := &exchange.Token{ID: "tok_1", Name: "审批系统", Role: exchange.RoleConsumer, Hash: hash, CreatedAt: t0}
	must(t, s.CreateToken(ctx, tok))
	mustCode(t, errs.Conflict, s.CreateToken(ctx, &exchange.Token{ID: "tok_2", Name: "dup", Role: exchange.RoleClerk, Hash: hash, CreatedAt: t0}))
	got, err := s.TokenByHash(ctx, hash)
	must(t, err)
	if got.ID != "tok_1" || got.Role != exchange.RoleConsumer || got.RevokedAt != nil || got.Name != "审批系统" {
		t.Fatalf("token = %+v", got)
	}
	_, err = s.TokenByHash(ctx, "nope")
	mustCode(t, errs.NotFound, err)
	must(t, s.RevokeToken(ctx, "tok_1", t0.Add(time.Second)))
	got, _ = s.TokenByHash(ctx, hash)
	if got.RevokedAt == nil {
		t.Fatal("token not revoked")
	}
	must(t, s.RevokeToken(ctx, "tok_1", t0.Add(2*time.Second))) // revoking twice is fine
	mustCode(t, errs.NotFound, s.RevokeToken(ctx, "tok_none", t0))
	ts, err := s.ListTokens(ctx)
	must(t, err)
	if len(ts) != 1 {
		t.Fatalf("ListTokens = %d", len(ts))
	}
}

func testRegistry(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	jwks := json.RawMessage(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA"}]}`)
	c := &exchange.Consumer{ID: "csm_1", Name: "受理平台", USCC: authCode, Scopes: []string{exchange.ScopeRead}, JWKS: jwks, Status: exchange.ConsumerActive, CreatedAt: t0}
	must(t, s.CreateConsumer(ctx, c))
	mustCode(t, errs.Conflict, s.CreateConsumer(ctx, c))
	got, err := s.Consumer(ctx, "csm_1")
	must(t, err)
	if got.Name != c.Name || len(got.Scopes) != 1 || got.Status != exchange.ConsumerActive || !strings.Contains(string(got.JWKS), `"k1"`) {
		t.Fatalf("consumer = %+v", got)
	}
	_, err = s.Consumer(ctx, "csm_none")
	mustCode(t, errs.NotFound, err)
	must(t, s.SetConsumerJWKS(ctx, "csm_1", json.RawMessage(`{"keys":[]}`)))
	mustCode(t, errs.NotFound, s.SetConsumerJWKS(ctx, "csm_none", jwks))

	// A consumer's key reads back with the consumer's name and scopes.
	_, hash := exchange.NewSecret()
	must(t, s.CreateToken(ctx, &exchange.Token{ID: "tok_c", Name: "key", Role: exchange.RoleConsumer, Consumer: "csm_1", Hash: hash, CreatedAt: t0}))
	tok, err := s.TokenByHash(ctx, hash)
	must(t, err)
	if tok.Consumer != "csm_1" || tok.ConsumerName != "受理平台" || len(tok.Scopes) != 1 {
		t.Fatalf("token = %+v", tok)
	}

	must(t, s.CreatePurpose(ctx, &exchange.Purpose{Code: "SX-1", Name: "食品经营许可 新办", Kind: exchange.PurposeServiceItem, CreatedAt: t0}))
	mustCode(t, errs.Conflict, s.CreatePurpose(ctx, &exchange.Purpose{Code: "SX-1", Name: "again", Kind: exchange.PurposeServiceItem, CreatedAt: t0}))
	ps, err := s.ListPurposes(ctx)
	must(t, err)
	if len(ps) != 1 || ps[0].Name != "食品经营许可 新办" {
		t.Fatalf("purposes = %+v", ps)
	}

	from, _ := certificates.ParseDate("2026-01-01")
	until, _ := certificates.ParseDate("2026-12-31")
	a := &exchange.Agreement{ID: "agr_1", Consumer: "csm_1", Grants: []exchange.Grant{{Type: typeCode, Fields: []string{"address"}, Document: true}},
		Purposes: []string{"SX-1"}, ValidFrom: from, ValidUntil: until, RatePerMinute: 60, Status: exchange.AgreementRequested,
		RequestedBy: "admin:bootstrap", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateAgreement(ctx, a))
	a2 := *a
	a2.ID, a2.CreatedAt = "agr_2", t0.Add(time.Second)
	must(t, s.CreateAgreement(ctx, &a2))
	ga, err := s.Agreement(ctx, "agr_1")
	must(t, err)
	if ga.ValidFrom != from || ga.ValidUntil != until || !ga.Grants[0].Document || ga.Grants[0].Fields[0] != "address" || ga.DecidedAt != nil {
		t.Fatalf("agreement = %+v", ga)
	}
	at := t0.Add(time.Minute)
	ga.Status, ga.DecidedBy, ga.DecidedAt, ga.UpdatedAt = exchange.AgreementApproved, "admin:bootstrap", &at, at
	must(t, s.DecideAgreement(ctx, ga, exchange.AgreementRequested))
	mustCode(t, errs.Conflict, s.DecideAgreement(ctx, ga, exchange.AgreementRequested)) // decided meanwhile
	as, err := s.ListAgreements(ctx, "csm_1")
	must(t, err)
	if len(as) != 2 || as[0].ID != "agr_2" || as[1].Status != exchange.AgreementApproved || !as[1].DecidedAt.Equal(at) {
		t.Fatalf("agreements = %+v", as)
	}
	if as, _ := s.ListAgreements(ctx, "csm_other"); len(as) != 0 {
		t.Fatalf("another consumer's agreements: %+v", as)
	}

	// A client assertion's jti is accepted once.
	must(t, s.UseAssertion(ctx, "csm_1", "jti-1", time.Now().Add(time.Minute)))
	mustCode(t, errs.Conflict, s.UseAssertion(ctx, "csm_1", "jti-1", time.Now().Add(time.Minute)))

	// Revoking the consumer revokes its keys in the same transaction.
	must(t, s.RevokeConsumer(ctx, "csm_1", t0.Add(time.Hour)))
	must(t, s.RevokeConsumer(ctx, "csm_1", t0.Add(2*time.Hour)))
	mustCode(t, errs.NotFound, s.RevokeConsumer(ctx, "csm_none", t0))
	if tok, _ := s.TokenByHash(ctx, hash); tok.RevokedAt == nil {
		t.Fatal("the consumer's key survived its revocation")
	}
	if got, _ := s.Consumer(ctx, "csm_1"); got.Status != exchange.ConsumerRevoked || got.RevokedAt == nil {
		t.Fatalf("revoked consumer = %+v", got)
	}
}

// testEvents: every certificate change writes its event (the outbox), the
// dispatcher's lease excludes a second owner, fan-out is idempotent, claims
// keep a certificate's deliveries in order, and expiry is announced once.
func testEvents(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	c1, c2 := NewCert("000001", 1, "h1"), NewCert("000002", 1, "h2")
	must(t, s.InsertCertificate(ctx, c1, nil))
	must(t, s.InsertCertificates(ctx, []*certificates.Certificate{c2}))
	c1v2 := NewCert("000001", 2, "h1")
	must(t, s.Supersede(ctx, c1.ID, c1v2))
	_, err := s.SetState(ctx, c2.ID, []certificates.State{certificates.StateValid}, certificates.StateRevoked, "吊销", t0.Add(time.Hour), nil)
	must(t, err)
	evs, err := s.EventsAfter(ctx, 0, 100, t0.Add(24*time.Hour))
	must(t, err)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.CertificateID[len(e.CertificateID)-12:])
	}
	if len(evs) != 4 || evs[0].Kind != "issued" || evs[1].Kind != "issued" || evs[2].Kind != "revised" || evs[3].Kind != "revoked" ||
		evs[2].Lineage != evs[0].Lineage || evs[3].Reason != "吊销" || evs[2].Version != 2 {
		t.Fatalf("events = %v", kinds)
	}
	// The lease: one owner at a time, until it runs out.
	now := time.Now().UTC()
	cur, ok, err := s.LeaseDispatch(ctx, "a", now, now.Add(time.Minute))
	must(t, err)
	if !ok || cur != 0 {
		t.Fatalf("first lease: %v %d", ok, cur)
	}
	if _, ok, _ := s.LeaseDispatch(ctx, "b", now, now.Add(time.Minute)); ok {
		t.Fatal("a second owner took a held lease")
	}
	must(t, s.CreateConsumer(ctx, &exchange.Consumer{ID: "csm_1", Name: "x", USCC: authCode, Scopes: exchange.AllScopes, Status: "active", CreatedAt: t0}))
	sub := &exchange.Subscription{ID: "sub_1", Consumer: "csm_1", URL: "https://10.0.0.1/hook", Types: []string{}, Authorities: []string{},
		Events: []string{}, Status: "active", CreatedAt: t0}
	must(t, s.CreateSubscription(ctx, sub))
	var ds []*exchange.Delivery
	for _, e := range evs {
		ds = append(ds, &exchange.Delivery{Subscription: "sub_1", EventSeq: e.Seq, Lineage: e.Lineage, Status: "pending", NextAt: now, CreatedAt: now})
	}
	must(t, s.Fanout(ctx, "a", ds, evs[3].Seq))
	mustCode(t, errs.Conflict, s.Fanout(ctx, "b", ds, evs[3].Seq+1))
	// A second fan-out of the same events adds nothing.
	must(t, s.Fanout(ctx, "a", ds, evs[3].Seq+1))

	// Claims: c1's revised waits for its issued; c2's revoked for its issued.
	claimed, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	if len(claimed) != 2 || claimed[0].Event.Kind != "issued" || claimed[1].Event.Kind != "issued" || claimed[0].URL != sub.URL {
		for _, c := range claimed {
			t.Logf("claimed %s %s %s", c.Event.Kind, c.Lineage, c.Event.CertificateID)
		}
		t.Fatalf("first claims: %d", len(claimed))
	}
	if again, _ := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	d := claimed[0]
	d.Status, d.Attempts = exchange.DeliveryDelivered, 1
	at := now
	d.DeliveredAt = &at
	f := claimed[1]
	f.Attempts, f.LastStatus, f.LastError, f.NextAt = 1, 503, "down", now.Add(time.Hour)
	must(t, s.FinishAttempts(ctx, []exchange.Finished{{Delivery: d, Attempt: exchange.Attempt{At: now, StatusCode: 204, DurationMS: 3}},
		{Delivery: f, Attempt: exchange.Attempt{At: now, StatusCode: 503, Error: "down", DurationMS: 5}}}))
	next, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	if len(next) != 1 || next[0].Event.Kind != "revised" {
		t.Fatalf("after one delivered and one retrying: %+v", next)
	}
	log, err := s.ListDeliveries(ctx, "sub_1", "", 10)
	must(t, err)
	if len(log) != 4 {
		t.Fatalf("delivery log: %d", len(log))
	}
	for _, l := range log {
		if l.ID == f.ID && (len(l.History) != 1 || l.History[0].Error != "down" || l.LastStatus != 503) {
			t.Fatalf("failed delivery in the log: %+v", l)
		}
	}
	subID, err := s.Redeliver(ctx, f.ID, now)
	must(t, err)
	if subID != "sub_1" {
		t.Fatalf("redeliver: %s", subID)
	}
	_, err = s.Redeliver(ctx, 999999, now)
	mustCode(t, errs.NotFound, err)

	// Across subscriptions: the earliest due delivery first, the limit
	// over all of them, none of a deleted subscription's (due earliest).
	for _, id := range []string{"sub_2", "sub_3"} {
		other := *sub
		other.ID = id
		must(t, s.CreateSubscription(ctx, &other))
	}
	var more []*exchange.Delivery
	for i, at := range map[string][]time.Duration{"sub_2": {-2 * time.Minute, -time.Minute, -3 * time.Second}, "sub_3": {-time.Hour, -time.Hour, -time.Hour}} {
		for n, back := range at {
			e := evs[[]int{0, 1, 3}[n]] // c1 issued, c2 issued, c2 revoked (waits for c2 issued)
			more = append(more, &exchange.Delivery{Subscription: i, EventSeq: e.Seq, Lineage: e.Lineage, Status: "pending", NextAt: now.Add(back), CreatedAt: now})
		}
	}
	must(t, s.Fanout(ctx, "a", more, evs[3].Seq+2))
	must(t, s.DeleteSubscription(ctx, "sub_3", now))
	first, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 1)
	must(t, err)
	if len(first) != 1 || first[0].Subscription != "sub_2" || first[0].EventSeq != evs[0].Seq {
		t.Fatalf("the earliest due delivery of an active subscription: %+v", first)
	}
	rest, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	must(t, err)
	var got []string
	for _, d := range rest {
		got = append(got, fmt.Sprintf("%s/%d", d.Subscription, d.EventSeq))
	}
	if want := fmt.Sprintf("[sub_2/%d sub_1/%d]", evs[1].Seq, evs[1].Seq); fmt.Sprint(got) != want {
		// sub_1's c2 issued is due since now, redelivered (after sub_2's,
		// due a minute ago); sub_1's revised is leased, and each revoked
		// waits for its subscription's c2 issued.
		t.Fatalf("claims across subscriptions: %v, want %s", got, want)
	}

	// Follows and expiry.
	must(t, s.Follow(ctx, "csm_1", "case-1", []string{evs[0].Lineage}, now.Add(time.Hour)))
	must(t, s.Follow(ctx, "csm_1", "case-2", []string{evs[0].Lineage}, now.Add(2*time.Hour)))
	fl, err := s.Followers(ctx, []string{evs[0].Lineage, evs[1].Lineage}, now)
	must(t, err)
	if len(fl) != 1 || fl[evs[0].Lineage]["csm_1"] != "case-2" {
		t.Fatalf("followers: %v", fl)
	}
	if fl, _ := s.Followers(ctx, []string{evs[0].Lineage}, now.Add(3*time.Hour)); len(fl) != 0 {
		t.Fatalf("an ended follow: %v", fl)
	}
	after, _ := certificates.ParseDate("2031-01-01")
	id := 0
	newID := func() string { id++; return fmt.Sprintf("evt_x%d", id) }
	if n, _ := s.EmitExpired(ctx, after.AddDays(1), after.AddDays(8), now, newID); n != 0 {
		t.Fatalf("an expiry before the window was announced: %d", n)
	}
	n, err := s.EmitExpired(ctx, after.AddDays(-7), after, now, newID)
	must(t, err)
	if n != 1 { // c1v2 is valid and ended 2030-12-31; c2 is revoked
		t.Fatalf("expired: %d", n)
	}
	if n, _ := s.EmitExpired(ctx, after.AddDays(-7), after, now, newID); n != 0 {
		t.Fatalf("expiry announced twice: %d", n)
	}

	// Pruning: finished deliveries and their attempts go, pending ones
	// and the events they need stay; ended follows go.
	must(t, s.Prune(ctx, now.Add(3*time.Hour)))
	left, err := s.ListDeliveries(ctx, "sub_1", "", 10)
	must(t, err)
	for _, d := range left {
		if d.Status != exchange.DeliveryPending || d.Event == nil || d.Event.ID == "" {
			t.Fatalf("after pruning: %+v", d)
		}
	}
	if len(left) != 3 { // the delivered one went
		t.Fatalf("after pruning: %d deliveries, want 3", len(left))
	}
	if fl, _ := s.Followers(ctx, []string{evs[0].Lineage}, now); len(fl) != 0 {
		t.Fatalf("a follow that ended survived pruning: %v", fl)
	}
}

// testItems: the catalog round-trips and is replaced by code; a case's
// resolution counts once, keeping its better count; certificates of many
// types are found in one query.
func testItems(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	it := &exchange.ServiceItem{Code: "SX-1", Name: "食品经营许可 新办", Department: "某局", CreatedAt: t0, UpdatedAt: t0,
		Materials: []exchange.Material{{Name: "申请书"}, {Name: "许可证", Certificate: true, Types: []string{typeCode}, Fields: []string{"address"},
			OriginalRequired: true, LegalBasis: "《办法》", Flags: []string{}}}}
	must(t, s.PutItems(ctx, []*exchange.ServiceItem{it}))
	it2 := *it
	it2.Name, it2.UpdatedAt = "食品经营许可 新办（修订）", t0.Add(time.Hour)
	must(t, s.PutItems(ctx, []*exchange.ServiceItem{&it2}))
	got, err := s.Item(ctx, "SX-1")
	must(t, err)
	if got.Name != it2.Name || !got.CreatedAt.Equal(t0) || len(got.Materials) != 2 || !got.Materials[1].OriginalRequired || got.Materials[1].Types[0] != typeCode {
		t.Fatalf("item = %+v", got)
	}
	_, err = s.Item(ctx, "SX-none")
	mustCode(t, errs.NotFound, err)
	if items, _ := s.ListItems(ctx); len(items) != 1 {
		t.Fatalf("items = %d", len(items))
	}
	r := &exchange.Resolution{Item: "SX-1", CaseID: "c-1", Department: "某局", Consumer: "csm_1", Day: "2026-03-01", Required: 2, Avoided: 0, At: t0}
	must(t, s.RecordResolution(ctx, r))
	r.Avoided = 1
	must(t, s.RecordResolution(ctx, r)) // a retry that found more keeps it
	r.Avoided = 0
	must(t, s.RecordResolution(ctx, r)) // and a worse one does not undo it
	must(t, s.RecordResolution(ctx, &exchange.Resolution{Item: "SX-1", CaseID: "c-2", Department: "某局", Consumer: "csm_1", Day: "2026-03-02",
		Required: 2, Avoided: 1, At: t0}))
	rs, err := s.Resolutions(stale(ctx), "2026-03-01", "2026-03-31")
	must(t, err)
	if len(rs) != 2 || rs[0].Avoided != 1 || rs[0].Required != 2 || rs[1].CaseID != "c-2" {
		t.Fatalf("resolutions = %+v", rs)
	}
	if rs, _ := s.Resolutions(stale(ctx), "2026-03-02", "2026-03-02"); len(rs) != 1 {
		t.Fatalf("one day: %+v", rs)
	}
	// Records are group-committed: resolves at once, two of each case (in
	// either order, often in one batch), keep each case once at its best.
	var wg sync.WaitGroup
	errc := make(chan error, 80)
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.RecordResolution(ctx, &exchange.Resolution{Item: "SX-1", CaseID: fmt.Sprintf("many-%02d", i/2), Department: "某局",
				Consumer: "csm_1", Day: "2026-03-03", Required: 2, Avoided: (i + i/2) % 2, At: t0})
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		must(t, err)
	}
	rs, err = s.Resolutions(stale(ctx), "2026-03-03", "2026-03-03")
	must(t, err)
	if len(rs) != 40 {
		t.Fatalf("%d cases recorded of 40", len(rs))
	}
	for _, r := range rs {
		if r.Avoided != 1 {
			t.Fatalf("case %s kept avoided %d, want its best, 1", r.CaseID, r.Avoided)
		}
	}
	// Many types, one query.
	c := NewCert("000001", 1, "h1")
	must(t, s.InsertCertificate(ctx, c, nil))
	found, _, err := s.FindCertificates(stale(ctx), certificates.Query{HolderIndex: "h1", Types: []string{"11330100MB0000001R999", typeCode}, Limit: 10})
	must(t, err)
	if len(found) != 1 || found[0].ID != c.ID {
		t.Fatalf("by types: %+v", found)
	}
}

func testShares(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "alice")
	must(t, s.InsertCertificate(ctx, c, nil))
	two := 2
	mk := func(id, hash string, expires time.Time, max *int) *exchange.Share {
		return &exchange.Share{ID: id, TokenHash: hash, HolderIndex: "alice", CertificateID: c.ID, Fields: []string{"address"},
			Purpose: "办理银行开户", ShowName: true, CreatedAt: t0, ExpiresAt: expires, MaxViews: max}
	}
	must(t, s.CreateShare(ctx, mk("sh_1", "h1", t0.Add(time.Hour), &two)))
	must(t, s.CreateShare(ctx, mk("sh_2", "h2", t0.Add(time.Minute), nil)))
	mustCode(t, errs.Conflict, s.CreateShare(ctx, mk("sh_3", "h1", t0.Add(time.Hour), nil)))

	list, err := s.ListShares(ctx, "alice")
	must(t, err)
	if len(list) != 2 || list[0].Fields[0] != "address" || !list[0].ShowName || list[0].Purpose != "办理银行开户" {
		t.Fatalf("ListShares = %+v", list)
	}
	if l, _ := s.ListShares(ctx, "bob"); len(l) != 0 {
		t.Fatal("bob sees alice's shares")
	}

	view := exchange.ShareView{Client: "Chrome", Network: "203.0.113.0/24"}
	// Two views allowed, the third is refused like an unknown token.
	for i := 1; i <= 2; i++ {
		sh, err := s.UseShare(ctx, "h1", view, t0.Add(time.Second))
		must(t, err)
		if sh.Views != i || sh.ID != "sh_1" || *sh.MaxViews != 2 {
			t.Fatalf("view %d: %+v", i, sh)
		}
	}
	_, err = s.UseShare(ctx, "h1", view, t0.Add(time.Second))
	mustCode(t, errs.NotFound, err)
	_, err = s.UseShare(ctx, "unknown", view, t0.Add(time.Second))
	mustCode(t, errs.NotFound, err)
	// Expiry is exclusive: at the expiry instant the share is gone.
	_, err = s.UseShare(ctx, "h2", view, t0.Add(time.Minute))
	mustCode(t, errs.NotFound, err)
	_, err = s.UseShare(ctx, "h2", view, t0.Add(59*time.Second))
	must(t, err)
	// Revocation: only by the holder, and at once.
	mustCode(t, errs.NotFound, s.RevokeShare(ctx, "sh_2", "bob", t0))
	must(t, s.RevokeShare(ctx, "sh_2", "alice", t0.Add(2*time.Second)))
	_, err = s.UseShare(ctx, "h2", view, t0.Add(3*time.Second))
	mustCode(t, errs.NotFound, err)

	// Concurrent views of a share with max_views 10: exactly 10 get in.
	ten := 10
	must(t, s.CreateShare(ctx, mk("sh_4", "h4", t0.Add(time.Hour), &ten)))
	var mu sync.Mutex
	got := map[bool]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UseShare(ctx, "h4", view, t0.Add(time.Second))
			if err != nil && !errs.Is(err, errs.NotFound) {
				t.Error(err)
			}
			mu.Lock()
			got[err == nil]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got[true] != 10 || got[false] != 30 {
		t.Fatalf("40 concurrent views of a 10-view share: %d allowed, %d refused", got[true], got[false])
	}
	must(t, s.RevokeShare(ctx, "sh_4", "alice", t0))

	views, err := s.ListShareViews(ctx, "alice", 10)
	must(t, err)
	views, _ = s.ListShareViews(ctx, "alice", 100)
	for len(views) > 0 && views[0].ShareID == "sh_4" {
		views = views[1:]
	}
	if len(views) != 3 || views[0].ShareID != "sh_2" || views[0].Network != "203.0.113.0/24" || !views[0].At.Equal(t0.Add(59*time.Second)) {
		t.Fatalf("ListShareViews = %+v", views)
	}
	if v, _ := s.ListShareViews(ctx, "bob", 10); len(v) != 0 {
		t.Fatal("bob sees alice's views")
	}
}

func testBatchInsert(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	first, err := s.NextSerials(ctx, typeCode, authCode, 3)
	must(t, err)
	if next, _ := s.NextSerial(ctx, typeCode, authCode); first != 1 || next != 4 {
		t.Fatalf("NextSerials gave %d, then NextSerial %d; want 1 and 4", first, next)
	}
	var batch []*certificates.Certificate
	for i := 1; i <= 3; i++ {
		c := NewCert(fmt.Sprintf("%06d", i), 1, "h")
		c.DocumentKey, c.DocumentOffset, c.DocumentLength = "batches/b1", int64(100*(i-1)), 99
		c.Origin = &certificates.Origin{Connector: "conn", SourceKey: fmt.Sprint("k", i), ContentHash: "hash", SourceStatus: "valid"}
		batch = append(batch, c)
	}
	must(t, s.InsertCertificates(ctx, batch))
	got, err := s.GetCertificate(ctx, batch[1].ID)
	must(t, err)
	if got.DocumentKey != "batches/b1" || got.DocumentOffset != 100 || got.DocumentLength != 99 {
		t.Fatalf("batch document location = %s %d %d", got.DocumentKey, got.DocumentOffset, got.DocumentLength)
	}
	origins, err := s.GetOrigins(ctx, "conn", []string{"k1", "k3", "k9"})
	must(t, err)
	if len(origins) != 2 || origins["k3"].CertificateID != batch[2].ID || origins["k1"].ContentHash != "hash" {
		t.Fatalf("GetOrigins = %v", origins)
	}
	// A batch with one duplicate stores nothing.
	dup := []*certificates.Certificate{NewCert("000010", 1, "h"), NewCert("000002", 1, "h")}
	mustCode(t, errs.Conflict, s.InsertCertificates(ctx, dup))
	_, err = s.GetCertificate(ctx, dup[0].ID)
	mustCode(t, errs.NotFound, err)
}

// testDocumentLocations: DocumentRefs pages through every version,
// superseded ones too, in Seq order; SetDocumentLocation moves only the
// location, and only of the version whose document hash it names.
func testDocumentLocations(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	var batch []*certificates.Certificate
	for i := 1; i <= 3; i++ {
		c := NewCert(fmt.Sprintf("%06d", i), 1, "h")
		c.DocumentKey, c.DocumentOffset, c.DocumentLength, c.DocumentSHA256 = "batches/b1", int64(100*(i-1)), 99, fmt.Sprint("sha-", i)
		batch = append(batch, c)
	}
	must(t, s.InsertCertificates(ctx, batch))
	v2 := NewCert("000002", 2, "h")
	v2.DocumentSHA256 = "sha-2.2"
	must(t, s.Supersede(ctx, batch[1].ID, v2))

	var refs []certificates.DocumentRef
	var after int64
	for {
		page, err := s.DocumentRefs(ctx, after, 3)
		must(t, err)
		refs = append(refs, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].Seq
	}
	if len(refs) != 4 {
		t.Fatalf("DocumentRefs gave %d versions, want 4 (the superseded one included): %+v", len(refs), refs)
	}
	for i := 1; i < len(refs); i++ {
		if refs[i].Seq <= refs[i-1].Seq {
			t.Fatalf("DocumentRefs out of Seq order: %+v", refs)
		}
	}
	if r := refs[1]; r.ID != batch[1].ID || r.Key != "batches/b1" || r.Offset != 100 || r.Length != 99 || r.SHA256 != "sha-2" {
		t.Fatalf("superseded batch member = %+v", r)
	}
	if r := refs[3]; r.ID != v2.ID || r.Key != v2.DocumentKey || r.Offset != 0 || r.Length != 0 || r.SHA256 != "sha-2.2" {
		t.Fatalf("revision = %+v", r)
	}
	if page, err := s.DocumentRefs(ctx, refs[3].Seq, 10); err != nil || len(page) != 0 {
		t.Fatalf("DocumentRefs after the last = %v, %v", page, err)
	}

	moved := refs[3]
	moved.Offset, moved.Length = 5, 7
	must(t, s.SetDocumentLocation(ctx, moved))
	got, err := s.GetCertificate(ctx, v2.ID)
	must(t, err)
	if got.DocumentKey != v2.DocumentKey || got.DocumentOffset != 5 || got.DocumentLength != 7 || got.DocumentSHA256 != "sha-2.2" ||
		!got.UpdatedAt.Equal(v2.UpdatedAt) || got.State != certificates.StateValid {
		t.Fatalf("after SetDocumentLocation: %+v", got)
	}
	// A hash that is not the version's: nothing changes.
	wrong := moved
	wrong.SHA256, wrong.Offset = "sha-2", 0
	mustCode(t, errs.NotFound, s.SetDocumentLocation(ctx, wrong))
	unknown := moved
	unknown.ID = NewCert("000099", 1, "h").ID
	mustCode(t, errs.NotFound, s.SetDocumentLocation(ctx, unknown))
	if got, _ := s.GetCertificate(ctx, v2.ID); got.DocumentOffset != 5 {
		t.Fatalf("a refused SetDocumentLocation moved the row: %+v", got)
	}
}

// testEveryDocumentReadsBack runs certificates.Service on the store (and a
// local document directory) through every way a version gets its
// document: issuance, bulk issuance, revision of a bulk member and of an
// issued one, revision of a revision, suspension, reinstatement and
// revocation. Every version's document must read back and match its
// recorded SHA-256 (issue 10: revisions of bulk members did not).
func testEveryDocumentReadsBack(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	// The service validates codes, which the store tests' fixed ones are not.
	const authCode = "11330100MB0000001R"
	const typeCode = authCode + "001"
	master, err := signing.GenerateMasterKey()
	must(t, err)
	keys, err := signing.NewManager(s, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	must(t, err)
	docs, err := filestore.Open(t.TempDir())
	must(t, err)
	loc, err := time.LoadLocation("Asia/Shanghai")
	must(t, err)
	svc := &certificates.Service{Store: s, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: time.Now, Location: loc}
	must(t, svc.CreateAuthority(ctx, &certificates.Authority{Code: authCode, Name: "某市市场监督管理局"}, "ES256"))
	must(t, svc.CreateType(ctx, &certificates.Type{Code: typeCode, Name: "食品经营许可证", DefiningAuthority: authCode,
		HolderKind: certificates.Organisation,
		Fields:     []certificates.Field{{Name: "address", Label: "经营场所", Type: certificates.FieldString, Required: true}}}))
	from, _ := certificates.ParseDate("2026-01-01")
	req := func(i int) *certificates.IssueRequest {
		return &certificates.IssueRequest{Type: typeCode, Authority: authCode,
			Holder:    certificates.Holder{Kind: certificates.Organisation, ID: "91350100M000100Y43", Name: "某某餐饮有限公司"},
			Data:      map[string]any{"address": fmt.Sprintf("人民路%d号", i)},
			ValidFrom: from}
	}
	sc := certificates.Scope{}
	issued, err := svc.Issue(ctx, sc, req(0), nil)
	must(t, err)
	var reqs []*certificates.IssueRequest
	for i := 1; i <= 4; i++ {
		reqs = append(reqs, req(i))
	}
	bulk, err := svc.IssueBatch(ctx, sc, reqs)
	must(t, err)
	revise := func(id string) string {
		t.Helper()
		rev, err := svc.Revise(ctx, sc, id, &certificates.ReviseRequest{Data: map[string]any{"address": "解放路" + id[len(id)-7:]}, Reason: "变更"})
		must(t, err)
		return rev.Certificate.ID
	}
	lifecycle := func(id string, acts ...certificates.Action) {
		t.Helper()
		for _, act := range acts {
			_, err := svc.Lifecycle(ctx, sc, id, act, string(act)+"：检查")
			must(t, err)
		}
	}
	revIssued := revise(issued.Certificate.ID)
	lifecycle(revIssued, certificates.Suspend, certificates.Reinstate)
	revBulk := revise(bulk[3].Certificate.ID) // the last member: its range is furthest in
	lifecycle(revise(revBulk), certificates.Suspend, certificates.Revoke)
	lifecycle(revise(bulk[0].Certificate.ID), certificates.Revoke)
	lifecycle(bulk[1].Certificate.ID, certificates.Suspend)

	var ids []string
	var after int64
	for {
		page, err := s.DocumentRefs(ctx, after, 100)
		must(t, err)
		for _, r := range page {
			ids, after = append(ids, r.ID), r.Seq
		}
		if len(page) < 100 {
			break
		}
	}
	if len(ids) != 9 {
		t.Fatalf("%d versions, want 9", len(ids))
	}
	for _, id := range ids {
		c, doc, err := svc.Document(ctx, id)
		if err != nil {
			t.Errorf("document of %s: %v", id, err)
			continue
		}
		if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != c.DocumentSHA256 {
			t.Errorf("document of %s does not hash to its recorded SHA-256", id)
		}
		if v, err := svc.VerifyDocument(ctx, doc); err != nil || v.Certificate == nil || v.Certificate.ID != id {
			t.Errorf("document of %s does not verify as itself: %+v %v", id, v, err)
		}
	}
	sum, err := svc.CheckDocuments(ctx, false, func(f certificates.DocumentFinding) error {
		t.Errorf("CheckDocuments: %s: %s", f.Ref.ID, f.Problem)
		return nil
	})
	must(t, err)
	if sum.Checked != len(ids) || sum.Broken != 0 {
		t.Fatalf("CheckDocuments = %+v", sum)
	}
}

func testLedger(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	l := newLedger(t, s)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Record(ctx, exchange.AuditEntry{Actor: "consumer:tok_1", Action: "lookup", Purpose: "食品经营许可", CaseID: fmt.Sprint("case-", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	size, _, err := s.AuditHead(ctx)
	must(t, err)
	if size != 20 {
		t.Fatalf("head size = %d, want 20", size)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		must(t, l.Record(ctx, exchange.AuditEntry{Actor: "admin:bootstrap", Action: "issue", Certificates: []string{fmt.Sprint("cert-", i)}}))
	}
	verify := func(wantBad int64, wantProblem string) {
		t.Helper()
		rep, err := l.Verify(ctx, 1, 0)
		must(t, err)
		if wantBad == 0 {
			if !rep.OK || rep.Checked != 25 || rep.Checkpoints != 1 {
				t.Fatalf("untouched ledger: %+v", rep)
			}
			return
		}
		if rep.OK || rep.FirstBad != wantBad || !strings.Contains(rep.Problem, wantProblem) {
			t.Fatalf("report %+v, want first bad %d (%s)", rep, wantBad, wantProblem)
		}
	}
	verify(0, "")
	// The usage counters were written in the same transactions: 20
	// concurrent lookups under one purpose, five issuances.
	// (A window of three days, so a run across midnight counts the same.)
	now := time.Now().UTC()
	rows, err := l.Report(ctx, "year", now.AddDate(0, 0, -1).Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02"))
	must(t, err)
	counts := map[string]int64{}
	for _, r := range rows {
		counts[r.Action+"|"+r.Purpose] += r.Count
	}
	if counts["lookup|食品经营许可"] != 20 || counts["issuance|"] != 5 || len(counts) != 2 {
		t.Fatalf("usage counters = %v, want 20 lookups and 5 issuances", counts)
	}
	db := s.DB()
	row := func(seq int64) (string, string) {
		var body, hash string
		must(t, db.QueryRow(ctx, `SELECT body, hash FROM audit_log WHERE seq = $1`, seq).Scan(&body, &hash))
		return body, hash
	}
	put := func(seq int64, body, hash string) {
		if _, err := db.Exec(ctx, `UPDATE audit_log SET body = $2, hash = $3 WHERE seq = $1`, seq, body, hash); err != nil {
			t.Fatal(err)
		}
	}
	// Altered: a purpose changed in place.
	b7, h7 := row(7)
	put(7, strings.Replace(b7, "食品经营许可", "其他用途", 1), h7)
	verify(7, "does not match its hash")
	put(7, b7, h7)
	// Removed.
	b12, h12 := row(12)
	if _, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq = 12`); err != nil {
		t.Fatal(err)
	}
	verify(12, "missing")
	var e12 exchange.AuditEntry
	must(t, json.Unmarshal([]byte(b12), &e12))
	if _, err := db.Exec(ctx, `INSERT INTO audit_log (seq, body, hash, at) VALUES (12, $1, $2, $3)`, b12, h12, e12.At); err != nil {
		t.Fatal(err)
	}
	// Reordered: two entries swapped.
	b15, h15 := row(15)
	b16, h16 := row(16)
	put(15, b16, h16)
	put(16, b15, h15)
	verify(15, "does not match")
	put(15, b15, h15)
	put(16, b16, h16)
	verify(0, "")
	// Rewritten consistently from entry 3 on (every hash recomputed): only
	// the signed checkpoint can tell, and it does.
	originals := map[int64][2]string{}
	prev := ""
	for seq := int64(1); seq <= 25; seq++ {
		b, h := row(seq)
		originals[seq] = [2]string{b, h}
		if seq == 3 {
			b = strings.Replace(b, "consumer:tok_1", "consumer:tok_9", 1)
		}
		nh := exchange.ChainHash(prev, []byte(b))
		put(seq, b, nh)
		prev = nh
	}
	verify(20, "rewritten")
	for seq, bh := range originals {
		put(seq, bh[0], bh[1])
	}
	verify(0, "")
	// Truncated below a checkpoint.
	if _, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq > 17`); err != nil {
		t.Fatal(err)
	}
	verify(18, "removed")
}

// testEventGaps: a missing seq (a transaction not yet committed, or rolled
// back) stops a read of the outbox until the event after it is older than
// the settle time.
func testEventGaps(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	for i := 1; i <= 3; i++ {
		must(t, s.InsertCertificate(ctx, NewCert(fmt.Sprintf("%06d", i), 1, "h"), nil))
	}
	evs, err := s.EventsAfter(ctx, 0, 100, t0.Add(24*time.Hour))
	must(t, err)
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	_, err = s.DB().Exec(ctx, `DELETE FROM events WHERE seq = $1`, evs[1].Seq)
	must(t, err)
	held, err := s.EventsAfter(ctx, 0, 100, evs[2].At)
	must(t, err)
	passed, err := s.EventsAfter(ctx, 0, 100, evs[2].At.Add(time.Second))
	must(t, err)
	if len(held) != 1 || len(passed) != 2 || passed[1].Seq != evs[2].Seq {
		t.Fatalf("across a gap: %d events before it settled, %d after", len(held), len(passed))
	}
}

// SeedCertificate gives a store its catalog and one valid certificate, for
// an adapter's own tests.
func SeedCertificate(t *testing.T, s *sqlstore.Store) *certificates.Certificate {
	t.Helper()
	SeedCatalog(t, s)
	c := NewCert("000001", 1, "h-seed")
	must(t, s.InsertCertificate(context.Background(), c, nil))
	return c
}
