package vcgo_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustbloc/kms-go/doc/jose/jwk"
	"github.com/trustbloc/vc-go/proof/checker"
	"github.com/trustbloc/vc-go/proof/defaults"
	"github.com/trustbloc/vc-go/verifiable"
	"github.com/trustbloc/vc-go/vermethod"

	"github.com/certhub/certhub/internal/hubtest"
)

// Fixtures: a market-supervision bureau sealing with ES256 (the default)
// and a planning bureau sealing with EdDSA, each defining a licence type.
const (
	marketCode   = "11330100MB0000001R"
	planningCode = "11330100MB0000002W"
	companyID    = "91350100M000100Y43"
	holderName   = "福建某某科技有限公司"
)

// TestVCGoAcceptsDocuments has trustbloc/vc-go v1.3.3 parse certhub's
// sealed documents as JWT VCs (verifiable.ParseCredential, proof check on,
// JSON-LD not involved: vc-go validates no JSON-LD for a JWT VC), with a
// proof checker whose key resolver finds the header's kid in the hub's
// /.well-known/jwks.json over HTTP. For an ES256 and an EdDSA seal key: a
// new document is accepted and its issuer, id, subject and validity are
// what the hub issued; the same document with one payload character
// changed and the signature kept is refused; a document of the format
// before issue 13 (no JWT registered claims), sealed by the same key, is
// reported (issue 13 says vc-go panicked on it).
func TestVCGoAcceptsDocuments(t *testing.T) {
	h := hubtest.New(t)
	c := &client{t: t, url: h.Srv.URL, token: h.Admin}
	c.must("POST", "/api/v1/authorities", map[string]string{"code": marketCode, "name": "杭州市市场监督管理局", "algorithm": "ES256"})
	c.must("POST", "/api/v1/authorities", map[string]string{"code": planningCode, "name": "杭州市规划和自然资源局", "algorithm": "EdDSA"})
	for _, code := range []string{marketCode, planningCode} {
		c.must("POST", "/api/v1/types", map[string]any{"code": code + "001", "name": "许可证", "defining_authority": code, "holder_kind": "organisation",
			"fields": []map[string]any{{"name": "permit_no", "label": "许可证编号", "type": "string", "required": true, "shareable": true}}})
	}
	resolver := &jwksResolver{url: h.Srv.URL + "/.well-known/jwks.json?alg=ES256,EdDSA"}
	pc := defaults.NewDefaultProofChecker(resolver)

	for _, tc := range []struct{ alg, authority string }{{"ES256", marketCode}, {"EdDSA", planningCode}} {
		t.Run(tc.alg, func(t *testing.T) {
			c := &client{t: t, url: c.url, token: c.token}
			var cert struct{ ID, KID, Document string }
			c.do("POST", "/api/v1/certificates", map[string]any{"type": tc.authority + "001", "authority": tc.authority,
				"holder":     map[string]string{"kind": "organisation", "id": companyID, "name": holderName},
				"data":       map[string]any{"permit_no": "JY-2020-0001"},
				"valid_from": "2020-05-01", "valid_until": "2030-04-27"}, 201, &cert)
			parts := strings.Split(cert.Document, ".")
			if len(parts) != 3 {
				t.Fatalf("document is not a compact JWS: %q", cert.Document)
			}
			var header struct{ Alg, Kid string }
			if err := json.Unmarshal(mustB64(t, parts[0]), &header); err != nil || header.Alg != tc.alg || header.Kid != cert.KID {
				t.Fatalf("protected header %+v (%v), want alg %s kid %s", header, err, tc.alg, cert.KID)
			}

			vc, err := parse(cert.Document, pc)
			if err != nil {
				t.Fatalf("vc-go refused a new document: %v", err)
			}
			got := vc.Contents()
			if got.ID != cert.ID {
				t.Errorf("id %q, want %q", got.ID, cert.ID)
			}
			if got.Issuer == nil || got.Issuer.ID != "urn:uscc:"+tc.authority {
				t.Errorf("issuer %+v, want urn:uscc:%s", got.Issuer, tc.authority)
			}
			if len(got.Subject) != 1 {
				t.Fatalf("subjects %+v, want one", got.Subject)
			}
			subject, _ := json.Marshal(got.Subject[0].CustomFields)
			var s struct {
				Holder struct{ Kind, ID, Name string }
				Data   map[string]any
			}
			if err := json.Unmarshal(subject, &s); err != nil || s.Holder.ID != companyID || s.Holder.Name != holderName || s.Data["permit_no"] != "JY-2020-0001" {
				t.Errorf("subject %s (%v)", subject, err)
			}
			// vc-go writes the JWT claims over the VC 2.0 properties:
			// validUntil from exp (the first second after the licence's
			// last day, 2030-04-28T00:00:00+08:00), validFrom from nbf and
			// then from iat (the issuance instant, which it prefers).
			if want := time.Date(2030, 4, 28, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)); got.Expired == nil || !got.Expired.Time.Equal(want) {
				t.Errorf("validUntil %v, want %v", got.Expired, want)
			}
			var claims struct{ IAT int64 }
			if err := json.Unmarshal(mustB64(t, parts[1]), &claims); err != nil || claims.IAT == 0 {
				t.Fatalf("payload iat: %+v, %v", claims, err)
			}
			if got.Issued == nil || got.Issued.Time.Unix() != claims.IAT {
				t.Errorf("validFrom %v, want iat %d", got.Issued, claims.IAT)
			}

			// One payload character changed, the signature kept: the
			// holder's name is now another company's.
			raw := mustB64(t, parts[1])
			forged := bytes.Replace(raw, []byte("某某"), []byte("另某"), 1)
			if bytes.Equal(forged, raw) {
				t.Fatal("holder name not found in the payload")
			}
			tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
			_, err = parse(tampered, pc)
			t.Logf("vc-go on a tampered document: %v", err)
			if err == nil || !strings.Contains(err.Error(), "signature") {
				t.Errorf("vc-go on a tampered document: %v, want a signature failure", err)
			}

			// The format before issue 13: the same payload without the
			// registered claims, sealed by the same key.
			var payload map[string]any
			if err := json.Unmarshal(raw, &payload); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"iss", "jti", "iat", "nbf", "exp"} {
				delete(payload, k)
			}
			oldPayload, _ := json.Marshal(payload)
			old, kid, err := h.Certs.Keys.Seal(context.Background(), tc.authority, oldPayload)
			if err != nil || kid != cert.KID {
				t.Fatalf("seal an old-format document: kid %s, %v", kid, err)
			}
			// vc-go v1.3.3 panics on it (a nil pointer dereference where it
			// copies iss into the credential, verifiable/credential_jwt.go:186,
			// before any proof check): this is why new documents carry the
			// claims. A vc-go that refuses such a document instead would be
			// an improvement; this pins what the pinned version does.
			_, err = parse(string(old), pc)
			t.Logf("vc-go on an old-format document: %v", err)
			if err == nil || !strings.Contains(err.Error(), "vc-go panicked") || !strings.Contains(err.Error(), "nil pointer") {
				t.Errorf("vc-go on an old-format document: %v, want the nil-pointer panic of v1.3.3", err)
			}
		})
	}
	if resolver.calls == 0 {
		t.Error("the key resolver was never asked")
	}
}

// parse is verifiable.ParseCredential with the proof checked; a panic in
// vc-go comes back as an error.
func parse(doc string, pc *checker.ProofChecker) (vc *verifiable.Credential, err error) {
	defer func() {
		if r := recover(); r != nil {
			vc, err = nil, fmt.Errorf("vc-go panicked: %v", r)
		}
	}()
	return verifiable.ParseCredential([]byte(doc), verifiable.WithJWTProofChecker(pc))
}

// jwksResolver resolves a JWS kid to the key of that kid in the hub's
// JWKS, fetched over HTTP, as a relying party with no DID would.
type jwksResolver struct {
	url   string
	calls int
}

func (r *jwksResolver) ResolveVerificationMethod(kid, _ string) (*vermethod.VerificationMethod, error) {
	r.calls++
	resp, err := http.Get(r.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("jwks: %d %v", resp.StatusCode, err)
	}
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	for _, raw := range set.Keys {
		var k jwk.JWK
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("jwks key: %w", err)
		}
		if k.KeyID == kid {
			return &vermethod.VerificationMethod{Type: "JsonWebKey2020", JWK: &k}, nil
		}
	}
	return nil, fmt.Errorf("kid %s is not in the hub's JWKS", kid)
}

// client sends JSON requests to the hub with a bearer token.
type client struct {
	t          *testing.T
	url, token string
}

func (c *client) must(method, path string, body any) {
	c.t.Helper()
	c.do(method, path, body, 201, nil)
}

func (c *client) do(method, path string, body any, want int, out any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
