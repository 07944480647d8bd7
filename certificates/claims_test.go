package certificates_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
)

// payloadOf decodes the payload of a compact JWS.
func payloadOf(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	parts := strings.Split(string(doc), ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// recordedDocument is the real store with one certificate's recorded
// document hash replaced, as if the hub had sealed that document: it lets a
// test verify a document sealed another way (the old format, or a forgery
// made with the authority's own key) without unknown_document hiding the
// reason under test.
type recordedDocument struct {
	certificates.Store
	id, sha string
}

func (r *recordedDocument) GetCertificate(ctx context.Context, id string) (*certificates.Certificate, error) {
	c, err := r.Store.GetCertificate(ctx, id)
	if err == nil && id == r.id {
		cp := *c
		cp.DocumentSHA256 = r.sha
		return &cp, nil
	}
	return c, err
}

// reseal signs payload with the authority's seal key through the key
// manager and makes the store record it as id's document.
func reseal(t *testing.T, svc *certificates.Service, base certificates.Store, id string, payload map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := svc.Keys.Seal(context.Background(), market, b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	svc.Store = &recordedDocument{Store: base, id: id, sha: hex.EncodeToString(sum[:])}
	return doc
}

// A new document carries iss, jti, iat, nbf and exp, consistent with its VC
// properties: nbf the first second of validFrom's day in Asia/Shanghai, exp
// the first second after validUntil's day.
func TestDocumentRegisteredClaims(t *testing.T) {
	t.Parallel()
	svc, _, clk, _ := newService(t)
	ctx := context.Background()
	clk.Set(time.Date(2026, 6, 1, 10, 0, 0, 987654321, time.UTC))
	res, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := payloadOf(t, res.Document)
	want := map[string]any{
		"iss": "urn:uscc:" + market,
		"jti": res.Certificate.ID,
		"iat": json.Number("1780308000"), // 2026-06-01T10:00:00Z, seconds truncated
		"nbf": json.Number("1767196800"), // 2026-01-01T00:00:00+08:00
		"exp": json.Number("1798732800"), // 2027-01-01T00:00:00+08:00
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	// The VC properties keep their format and agree with the claims.
	if p["validFrom"] != "2026-01-01T00:00:00+08:00" || p["validUntil"] != "2026-12-31T23:59:59+08:00" {
		t.Errorf("validFrom %v, validUntil %v", p["validFrom"], p["validUntil"])
	}
	if iss := p["issuer"].(map[string]any)["id"]; iss != p["iss"] || p["id"] != p["jti"] {
		t.Errorf("issuer.id %v / iss %v, id %v / jti %v", iss, p["iss"], p["id"], p["jti"])
	}
	v, err := svc.VerifyDocument(ctx, res.Document)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid {
		t.Fatalf("new document invalid: %v", v.Reasons)
	}
}

// A document sealed before issue 13 (no registered claims) still verifies;
// one whose claims disagree with its VC properties, sealed with the
// authority's own key, is invalid with a reason naming the claim.
func TestDocumentClaimsAgreeWithCredential(t *testing.T) {
	t.Parallel()
	svc, base, _, _ := newService(t)
	ctx := context.Background()
	res, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Certificate.ID
	other2, err := svc.Issue(ctx, certificates.Scope{}, request("2026-01-01", "2026-12-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		edit   func(p map[string]any)
		reason string // "" for valid
	}{
		{"old format without claims", func(p map[string]any) {
			for _, k := range []string{"iss", "jti", "iat", "nbf", "exp"} {
				delete(p, k)
			}
		}, ""},
		{"unchanged", func(map[string]any) {}, ""},
		{"iss of another authority", func(p map[string]any) { p["iss"] = "urn:uscc:" + other }, certificates.ReasonISSMismatch},
		{"jti of another certificate", func(p map[string]any) { p["jti"] = other2.Certificate.ID }, certificates.ReasonJTIMismatch},
		{"nbf a day early", func(p map[string]any) { p["nbf"] = json.Number("1767110400") }, certificates.ReasonNBFMismatch},
		{"exp at validUntil, not after it", func(p map[string]any) { p["exp"] = json.Number("1798732799") }, certificates.ReasonEXPMismatch},
		{"exp missing with validUntil", func(p map[string]any) { delete(p, "exp") }, certificates.ReasonEXPMismatch},
		{"exp without validUntil", func(p map[string]any) { delete(p, "validUntil") }, certificates.ReasonEXPMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := payloadOf(t, res.Document)
			tc.edit(p)
			doc := reseal(t, svc, base, id, p)
			v, err := svc.VerifyDocument(ctx, doc)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if !v.Valid {
					t.Fatalf("invalid: %v", v.Reasons)
				}
				return
			}
			if v.Valid || !slices.Equal(v.Reasons, []string{tc.reason}) {
				t.Fatalf("valid %v, reasons %v; want exactly [%s]", v.Valid, v.Reasons, tc.reason)
			}
		})
	}
}
