package signing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// trustedKeys returns the keys of m's trust list as another hub reads them.
func trustedKeys(t *testing.T, m *Manager) map[string]TrustedKey {
	t.Helper()
	master, _ := GenerateMasterKey()
	hub, err := NewHubKey(master)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.TrustList(context.Background(), hub, "https://county.example", map[string]string{"11330102MB0000001X": "上城区市场监督管理局"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload, _, err := VerifyHubSigned(tok, hub.current().pub, TrustListType)
	if err != nil {
		t.Fatal(err)
	}
	var tl TrustList
	if err := json.Unmarshal(payload, &tl); err != nil {
		t.Fatal(err)
	}
	out := map[string]TrustedKey{}
	for _, k := range tl.Keys {
		out[k.KID] = k
	}
	return out
}

// TestForeignKeys seals documents on one manager (a county's) and verifies
// them on another (a province's) that knows the county's keys only from its
// trust list, through the SetForeign hook, for each algorithm.
func TestForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	county := newTestManager(t, master, &memKeys{})
	const authority = "11330102MB0000001X"
	docs := map[Algorithm][]byte{}
	for _, alg := range []Algorithm{ES256, EdDSA, SM2} {
		if _, err := county.AddKey(ctx, authority, alg); err != nil {
			t.Fatal(err)
		}
		if err := county.SetDocumentAlgorithm(ctx, authority, alg); err != nil {
			t.Fatal(err)
		}
		doc, _, err := county.Seal(ctx, authority, []byte(`{"id":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		docs[alg] = doc
	}
	keys := trustedKeys(t, county)

	other, _ := GenerateMasterKey()
	province := newTestManager(t, other, &memKeys{})
	calls := 0
	province.SetForeign(func(_ context.Context, kid string) (*ForeignKey, error) {
		calls++
		if k, ok := keys[kid]; ok {
			return &ForeignKey{Hub: "330102", TrustedKey: k}, nil
		}
		return nil, nil
	})
	for alg, doc := range docs {
		ver, err := province.Verify(ctx, doc)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if ver.Foreign == nil || ver.Foreign.Hub != "330102" || ver.Authority != authority || ver.Algorithm != alg ||
			ver.Foreign.AuthorityName != "上城区市场监督管理局" {
			t.Fatalf("%s: verified as %+v (foreign %+v)", alg, ver, ver.Foreign)
		}
		// A changed payload does not verify.
		parts := strings.Split(string(doc), ".")
		forged := parts[0] + ".eyJpZCI6InkifQ." + parts[2]
		if _, err := province.Verify(ctx, []byte(forged)); !isReason(err, ReasonBadSignature) {
			t.Fatalf("%s: a forged document: %v", alg, err)
		}
	}
	// The hook is asked every time: nothing foreign is cached.
	before := calls
	if _, err := province.Verify(ctx, docs[ES256]); err != nil || calls != before+1 {
		t.Fatalf("a second verification: %v, %d calls", err, calls-before)
	}
	// A kid no trust list states stays unknown.
	if _, err := (&Manager{store: &memKeys{}}).Verify(ctx, docs[ES256]); !isReason(err, ReasonUnknownKey) {
		t.Fatalf("without the hook: %v", err)
	}
	// A trust list whose key is not what it says is not used.
	for kid, k := range keys {
		bad := k
		bad.Alg = "EdDSA"
		if k.Alg == "EdDSA" {
			bad.Alg = "ES256"
		}
		province.SetForeign(func(context.Context, string) (*ForeignKey, error) {
			return &ForeignKey{Hub: "330102", TrustedKey: bad}, nil
		})
		if _, err := province.Verify(ctx, docs[ES256]); !isReason(err, ReasonUnknownKey) && !isReason(err, ReasonBadSignature) {
			t.Fatalf("key %s stated with alg %s: %v", kid, bad.Alg, err)
		}
		if _, _, err := bad.PublicKey(); err == nil {
			t.Fatalf("key %s (%s) parses as %s", kid, k.Alg, bad.Alg)
		}
		wrongKid := k
		wrongKid.KID = "not-the-thumbprint"
		if _, _, err := wrongKid.PublicKey(); err == nil || !strings.Contains(err.Error(), "thumbprint") {
			t.Fatalf("key %s under another kid: %v", kid, err)
		}
	}
}

func TestForeignKeyWindow(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	unix := func(s string) *int64 { u := at(s).Unix(); return &u }
	k := TrustedKey{ValidFrom: at("2026-01-01T00:00:00Z").Unix(), ValidUntil: unix("2026-06-01T00:00:00Z"), CompromisedFrom: unix("2026-03-01T00:00:00Z")}
	for _, c := range []struct {
		name, sealed string
		want         []string
	}{
		{"before the key existed", "2025-12-31T23:59:59Z", []string{ReasonKeyNotYetValid}},
		{"while good", "2026-02-01T00:00:00Z", nil},
		{"at the compromise instant", "2026-03-01T00:00:00Z", []string{ReasonKeyCompromised}},
		{"after retirement", "2026-06-01T00:00:01Z", []string{ReasonKeyRetired, ReasonKeyCompromised}},
	} {
		if got := k.Problems(at(c.sealed)); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
