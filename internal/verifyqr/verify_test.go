package verifyqr_test

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/internal/verifyqr"
	"github.com/certhub/certhub/internal/verifyqr/verifyqrtest"
)

// The status list entries of the fixture's list 1.
const (
	idxValid     = 70001
	idxRevoked   = 3
	idxSuspended = 131071
)

// lists are the fixture's cached files, fetched an hour ago: the trust
// list and status list 1 (revoked and suspended entries set, exp in a
// day, ttl 5 minutes).
func lists(t testing.TB, f *verifyqrtest.Fixture) (tl []byte, tsl []byte) {
	t.Helper()
	at := f.Now.Add(-time.Hour)
	return f.TrustList(t, at), verifyqrtest.TSL(t, f.Hub, verifyqrtest.StatusURI(1), statuslist.MinSize,
		map[int]statuslist.Status{idxRevoked: statuslist.Invalid, idxSuspended: statuslist.Suspended}, at, at.Add(24*time.Hour), 5*time.Minute)
}

func verifier(t testing.TB, f *verifyqrtest.Fixture, tl []byte, tsls ...[]byte) *verifyqr.Verifier {
	t.Helper()
	hub, err := verifyqr.ParseHubKey(f.HubJWK())
	if err != nil {
		t.Fatal(err)
	}
	trust, err := verifyqr.ParseTrustList(tl, hub)
	if err != nil {
		t.Fatal(err)
	}
	var sls []*verifyqr.StatusList
	for _, b := range tsls {
		sl, err := verifyqr.ParseStatusList(b, hub)
		if err != nil {
			t.Fatal(err)
		}
		sls = append(sls, sl)
	}
	types, err := verifyqr.ParseCatalogue([]byte(verifyqrtest.Types))
	if err != nil {
		t.Fatal(err)
	}
	return verifyqr.NewVerifier(trust, sls, types)
}

// base45 is RFC 9285 written here, to build hostile QR texts.
func base45(b []byte) string {
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var s strings.Builder
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])*256 + int(b[i+1])
		s.WriteByte(a[n%45])
		s.WriteByte(a[n/45%45])
		s.WriteByte(a[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(a[n%45])
		s.WriteByte(a[n/45])
	}
	return s.String()
}

func zlibbed(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// unwrap decodes a QR text to its COSE_Sign1 bytes.
func unwrap(t *testing.T, text string) []byte {
	t.Helper()
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	s := strings.TrimPrefix(text, compactqr.Prefix)
	var out []byte
	for i := 0; i < len(s); i += 3 {
		if i+2 < len(s) {
			n := strings.IndexByte(a, s[i]) + 45*strings.IndexByte(a, s[i+1]) + 2025*strings.IndexByte(a, s[i+2])
			out = append(out, byte(n>>8), byte(n))
		} else {
			out = append(out, byte(strings.IndexByte(a, s[i])+45*strings.IndexByte(a, s[i+1])))
		}
	}
	zr, err := zlib.NewReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return raw.Bytes()
}

func wrap(raw []byte) string { return compactqr.Prefix + base45(zlibbed(raw)) }

// TestVerify runs every verdict against real artifacts: the trust list
// signing.Manager signs with the hub key, QR texts sealed with the market
// bureau's ES256 and EdDSA keys, a status list encoded per the
// specification.
func TestVerify(t *testing.T) {
	t.Parallel()
	f := verifyqrtest.New(t)
	tl, tsl := lists(t, f)
	v := verifier(t, f, tl, tsl)
	now := f.Now
	lic := verifyqrtest.Licence("000001", "2029-12-31")
	valid := f.QR(t, f.ES256, lic, now.Add(-time.Minute), idxValid)

	// A tampered QR: the holder's name changed inside the signed payload.
	raw := unwrap(t, valid)
	tampered := wrap(bytes.Replace(raw, []byte("福建某某"), []byte("福建另一"), 1))
	if tampered == wrap(raw) {
		t.Fatal("the tampering changed nothing")
	}
	// Signed by a key the trust list does not have.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerQR, err := compactqr.Encode(stranger, bytes.Repeat([]byte{7}, 32), compactqr.Input{Issuer: verifyqrtest.Hub, Licence: lic, Now: now,
		Status: &compactqr.StatusRef{Idx: idxValid, URI: verifyqrtest.StatusURI(1)}})
	if err != nil {
		t.Fatal(err)
	}
	// Signed with ES256 under the kid of the EdDSA key.
	wrongAlg, err := compactqr.Encode(f.ES256.Signer, f.EdDSA.Thumbprint, compactqr.Input{Issuer: verifyqrtest.Hub, Licence: lic, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the key of another authority than the licence's issuer.
	otherAuthority := f.QR(t, f.Compromised, lic, f.CompromisedFrom.Add(-time.Minute), idxValid)
	// Hostile CBOR: nesting past the limit, and a protected header with a
	// duplicate key.
	deep := []byte{0xd2} // tag 18
	for range 20 {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0x00)
	dupHeader, _ := cbor.Marshal([]any{cbor.RawMessage{0x45, 0xa2, 0x01, 0x26, 0x01, 0x26}, map[int]int{}, []byte{}, make([]byte, 64)})
	dupHeader = append([]byte{0xd2}, dupHeader...)

	for _, tc := range []struct {
		name string
		text string
		now  time.Time
		want []verifyqr.Reason
	}{
		{"valid ES256", valid, now, nil},
		{"valid EdDSA", f.QR(t, f.EdDSA, lic, now, idxValid), now, nil},
		{"licence without expiry", f.QR(t, f.EdDSA, verifyqrtest.Licence("000002", ""), now, idxValid), now, nil},
		{"sealed by the retired key before it retired", f.QR(t, f.Retired, lic, f.RetiredAt.Add(-time.Hour), idxValid), now, nil},
		{"tampered", tampered, now, []verifyqr.Reason{compactqr.BadSignature}},
		{"unknown kid", strangerQR, now, []verifyqr.Reason{compactqr.UnknownKey}},
		{"wrong algorithm for the kid", wrongAlg, now, []verifyqr.Reason{compactqr.BadAlgorithm}},
		{"bad prefix", "HC1:6BF+70790T9WJWG.FKY*4GO0.O1CV2", now, []verifyqr.Reason{compactqr.BadPrefix}},
		{"bad base45", compactqr.Prefix + "AB~", now, []verifyqr.Reason{compactqr.BadBase45}},
		{"not zlib", compactqr.Prefix + base45([]byte("not a zlib stream")), now, []verifyqr.Reason{compactqr.BadZlib}},
		{"zlib bomb", wrap(make([]byte, 1<<20)), now, []verifyqr.Reason{compactqr.TooLarge}},
		{"excessive CBOR nesting", wrap(deep), now, []verifyqr.Reason{compactqr.BadCBOR}},
		{"duplicate CBOR keys", wrap(dupHeader), now, []verifyqr.Reason{compactqr.BadCBOR}},
		{"revoked", f.QR(t, f.ES256, lic, now, idxRevoked), now, []verifyqr.Reason{verifyqr.Revoked}},
		{"suspended", f.QR(t, f.ES256, lic, now, idxSuspended), now, []verifyqr.Reason{verifyqr.Suspended}},
		{"expired", f.QR(t, f.ES256, verifyqrtest.Licence("000003", "2025-12-31"), now, idxValid), now, []verifyqr.Reason{compactqr.Expired}},
		{"not yet valid", f.QR(t, f.ES256, func() compactqr.Licence {
			l := verifyqrtest.Licence("000004", "2099-12-31")
			l.ValidFrom = compactqr.Date{Year: 2098, Month: 1, Day: 1}
			return l
		}(), now, idxValid), now, []verifyqr.Reason{verifyqr.NotYetValid}},
		{"status index out of range", f.QR(t, f.ES256, lic, now, statuslist.MinSize), now, []verifyqr.Reason{verifyqr.BadStatusIndex}},
		{"no status reference (valid, with a warning)", f.QR(t, f.ES256, lic, now, -1), now, nil},
		{"another status list", func() string {
			text, err := compactqr.Encode(f.ES256.Signer, f.ES256.Thumbprint, compactqr.Input{Issuer: verifyqrtest.Hub, Licence: lic, Now: now,
				Status: &compactqr.StatusRef{Idx: 1, URI: verifyqrtest.StatusURI(2)}})
			if err != nil {
				t.Fatal(err)
			}
			return text
		}(), now, []verifyqr.Reason{verifyqr.StatusUnavailable}},
		{"compromised key, sealed after compromised_from", func() string {
			l := lic
			l.IssuerUSCC = verifyqrtest.Health
			return f.QR(t, f.Compromised, l, f.CompromisedFrom.Add(time.Minute), idxValid)
		}(), now, []verifyqr.Reason{verifyqr.KeyCompromised}},
		{"compromised key, sealed before compromised_from", func() string {
			l := lic
			l.IssuerUSCC = verifyqrtest.Health
			return f.QR(t, f.Compromised, l, f.CompromisedFrom.Add(-time.Minute), idxValid)
		}(), now, nil},
		{"retired key, sealed after it retired", f.QR(t, f.Retired, lic, f.RetiredAt.Add(time.Hour), idxValid), now, []verifyqr.Reason{verifyqr.KeyRetired}},
		{"sealed before the key existed", f.QR(t, f.ES256, lic, f.KeysFrom.Add(-time.Hour), idxValid), now, []verifyqr.Reason{verifyqr.KeyNotYetValid}},
		{"key of another authority", otherAuthority, now, []verifyqr.Reason{verifyqr.IssuerMismatch}},
		{"another hub's QR", func() string {
			text, err := compactqr.Encode(f.ES256.Signer, f.ES256.Thumbprint, compactqr.Input{Issuer: "https://zwfw.example.gov.cn", Licence: lic, Now: now,
				Status: &compactqr.StatusRef{Idx: idxValid, URI: verifyqrtest.StatusURI(1)}})
			if err != nil {
				t.Fatal(err)
			}
			return text
		}(), now, []verifyqr.Reason{verifyqr.IssuerMismatch}},
		{"stale trust list", valid, f.Now.Add(23*time.Hour + time.Second), []verifyqr.Reason{verifyqr.StaleLists}},
		{"stale lists, revoked", f.QR(t, f.ES256, lic, now, idxRevoked), f.Now.Add(30 * time.Hour),
			[]verifyqr.Reason{verifyqr.StaleLists, verifyqr.Revoked}},
		{"unknown kid, stale trust list", strangerQR, f.Now.Add(30 * time.Hour), []verifyqr.Reason{compactqr.UnknownKey, verifyqr.StaleLists}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(tc.text, tc.now)
			if r.Valid != (len(tc.want) == 0) || !equal(r.Reasons, tc.want) || len(r.Details) != len(r.Reasons) {
				t.Fatalf("valid %v, reasons %v (%v), want %v", r.Valid, r.Reasons, r.Details, tc.want)
			}
			if len(tc.want) > 0 && r.Reason != tc.want[0] {
				t.Fatalf("reason %q, want %q", r.Reason, tc.want[0])
			}
			if r.TrustList == nil || r.TrustList.URI != verifyqrtest.Hub || r.TrustList.AgeSeconds != int64(tc.now.Sub(f.Now.Add(-time.Hour))/time.Second) ||
				len(r.StatusLists) != 1 || r.StatusLists[0].URI != verifyqrtest.StatusURI(1) || !r.StatusLists[0].RefreshDue {
				t.Fatalf("list ages: %+v %+v", r.TrustList, r.StatusLists)
			}
		})
	}

	if r := v.Verify(f.QR(t, f.ES256, lic, now, -1), now); !r.Valid || len(r.Warnings) != 1 || r.Warnings[0].Reason != verifyqr.NoStatus || r.Status != nil {
		t.Fatalf("no status reference: %+v", r)
	}
	if r := v.Verify(valid, now); len(r.Warnings) != 0 {
		t.Fatalf("warnings on a QR with a status reference: %+v", r.Warnings)
	}
	r := v.Verify(valid, now)
	if r.Licence == nil || r.Licence.ID != lic.ID || r.Licence.IssuerName != verifyqrtest.MarketName || r.Licence.ValidUntil != "2029-12-31" ||
		len(r.Licence.Fields) != 2 || r.Licence.Fields[1].Number != 4 || r.Licence.Fields[1].Name != "address" ||
		r.Licence.Fields[1].Label["zh-CN"] != "经营场所" || r.Licence.Fields[1].Value != lic.Fields[4] ||
		r.SignedBy == nil || r.SignedBy.KID != f.ES256.Key.KID || r.SignedBy.Authority != verifyqrtest.Market ||
		r.SignedBy.AuthorityName != verifyqrtest.MarketName || r.SignedBy.State != "active" ||
		r.Status == nil || r.Status.Index != idxValid || r.Status.Value == nil || *r.Status.Value != statuslist.Valid ||
		r.QR.Alg != "ES256" || r.QR.Expires == nil || r.TrustList.Stale || r.StatusLists[0].Stale {
		t.Fatalf("report of a valid QR: %+v", r)
	}
	if r := v.Verify(f.QR(t, f.Compromised, func() compactqr.Licence {
		l := lic
		l.IssuerUSCC = verifyqrtest.Health
		return l
	}(), now, idxValid), now); r.SignedBy.State != "compromised" || r.SignedBy.CompromisedFrom == nil || !r.SignedBy.CompromisedFrom.Equal(f.CompromisedFrom) {
		t.Fatalf("compromised signer: %+v", r.SignedBy)
	}
}

func equal(a, b []verifyqr.Reason) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLoad: cached files that cannot be used are refused with their reason.
func TestLoad(t *testing.T) {
	t.Parallel()
	f := verifyqrtest.New(t)
	tl, tsl := lists(t, f)
	hub, err := verifyqr.ParseHubKey(f.HubJWK())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(tl), ".")
	tamperedTL := parts[0] + "." + parts[1][:len(parts[1])-4] + "AAAA." + parts[2]
	otherTL, err := f.Keys.TrustList(t.Context(), f.Other, verifyqrtest.Hub, nil, f.Now)
	if err != nil {
		t.Fatal(err)
	}
	// An access-token-like JWT by the hub key: right key, wrong typ.
	notTL := verifyqrtest.TSL(t, f.Hub, verifyqrtest.Hub, 8, nil, f.Now, f.Now.Add(time.Hour), 0)
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"tampered", []byte(tamperedTL)}, {"signed by another hub key", otherTL}, {"a status list", notTL},
		{"not a JWS", []byte("{}")}, {"empty", nil}} {
		if _, err := verifyqr.ParseTrustList(tc.b, hub); verifyqr.ReasonOf(err) != verifyqr.BadTrustList {
			t.Errorf("trust list %s: %v, want bad_trust_list", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"signed by another hub key", verifyqrtest.TSL(t, f.Other, verifyqrtest.StatusURI(1), 8, nil, f.Now, f.Now.Add(time.Hour), 0)},
		{"the trust list", tl},
		{"no exp, no ttl", verifyqrtest.TSL(t, f.Hub, verifyqrtest.StatusURI(1), 8, nil, f.Now, time.Unix(0, 0), 0)},
		{"not a JWS", []byte("a.b")},
	} {
		if _, err := verifyqr.ParseStatusList(tc.b, hub); verifyqr.ReasonOf(err) != verifyqr.BadStatusList {
			t.Errorf("status list %s: %v, want bad_status_list", tc.name, err)
		}
	}
	if _, err := verifyqr.ParseStatusList(tsl, hub); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"a seal key", []byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`)},
		{"not JSON", []byte("hub")}} {
		if _, err := verifyqr.ParseHubKey(tc.b); verifyqr.ReasonOf(err) != verifyqr.BadHubKey {
			t.Errorf("hub key %s: %v, want bad_hub_key", tc.name, err)
		}
	}
}

// TestStatusListsAgree: a Token Status List encoded by the hub's own
// package (statuslist.NewTSLClaims) and one encoded here from the
// specification with the standard library read the same.
func TestStatusListsAgree(t *testing.T) {
	t.Parallel()
	f := verifyqrtest.New(t)
	hub, err := verifyqr.ParseHubKey(f.HubJWK())
	if err != nil {
		t.Fatal(err)
	}
	set := map[int]statuslist.Status{0: statuslist.Invalid, 5: statuslist.Suspended, 77_777: statuslist.Invalid, statuslist.MinSize - 1: statuslist.Suspended}
	l, err := statuslist.New(statuslist.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range set {
		if err := l.Set(i, s); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := statuslist.NewTSLClaims(verifyqrtest.StatusURI(1), l, f.Now, 24*time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := f.Hub.Sign(payload, statuslist.TSLType)
	if err != nil {
		t.Fatal(err)
	}
	ours := verifyqrtest.TSL(t, f.Hub, verifyqrtest.StatusURI(1), statuslist.MinSize, set, f.Now, f.Now.Add(24*time.Hour), time.Hour)
	a, err := verifyqr.ParseStatusList(theirs, hub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verifyqr.ParseStatusList(ours, hub)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != statuslist.MinSize || b.Len() != a.Len() || a.URI != b.URI || !a.Expires.Equal(b.Expires) || a.TTL != b.TTL {
		t.Fatalf("lists differ: %+v / %+v", a, b)
	}
	for i := range uint64(statuslist.MinSize) {
		x, _ := a.Status(i)
		y, _ := b.Status(i)
		if x != y || x != set[int(i)] {
			t.Fatalf("entry %d: package %d, stdlib %d, set %d", i, x, y, set[int(i)])
		}
	}
	if _, ok := a.Status(statuslist.MinSize); ok {
		t.Fatal("an index past the end was read")
	}
}
