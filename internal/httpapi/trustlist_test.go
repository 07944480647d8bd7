package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/internal/testenv"
)

type trustListPayload struct {
	Iss  string `json:"iss"`
	Iat  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
	Keys []struct {
		KID             string          `json:"kid"`
		Alg             string          `json:"alg"`
		JWK             json.RawMessage `json:"jwk"`
		Authority       string          `json:"authority"`
		AuthorityName   string          `json:"authority_name"`
		ValidFrom       int64           `json:"valid_from"`
		ValidUntil      *int64          `json:"valid_until"`
		State           string          `json:"state"`
		CompromisedFrom *int64          `json:"compromised_from"`
	} `json:"keys"`
}

// trustListHub is a seeded hub whose market bureau has rotated its ES256
// key once and has an SM2 key too: one retired key and active keys of
// every algorithm.
func trustListHub(t *testing.T) (h *hub, retired string) {
	t.Helper()
	h = newHub(t)
	h.seed()
	retired = h.activeKID(marketCode, "ES256")
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/rotate", h.Admin, map[string]string{"algorithm": "ES256"}, nil); st != 201 {
		t.Fatalf("rotate: %d", st)
	}
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "SM2"}, nil); st != 201 {
		t.Fatalf("add SM2 key: %d", st)
	}
	return h, retired
}

// The trust list verifies with the hub key found by its kid in
// /.well-known/jwks.json (jwx), names its typ, lasts 24 hours, and states
// every seal key with the JWK the JWKS has for it and its state: the
// rotated key retired with valid_until, the others active. A tampered list
// does not verify; the ETag revalidates it.
func TestTrustList(t *testing.T) {
	t.Parallel()
	h, retired := trustListHub(t)
	tl := h.getPublic("/.well-known/certhub-trust-list")

	msg, err := jws.Parse(tl, jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		t.Fatalf("trust list %q: %v", tl, err)
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	kid, _ := hdr.KeyID()
	typ, _ := hdr.Type()
	alg, _ := hdr.Algorithm()
	if kid != h.API.AccessTokens.Key.KID() || typ != "certhub-trust-list+jwt" || alg != jwa.EdDSA() {
		t.Fatalf("header kid %q typ %q alg %v; want the hub key's kid %q, certhub-trust-list+jwt, EdDSA", kid, typ, alg, h.API.AccessTokens.Key.KID())
	}
	k, ok := h.jwks().LookupKeyID(kid)
	if !ok {
		t.Fatalf("the trust list's kid %q is not in /.well-known/jwks.json", kid)
	}
	payload, err := jws.Verify(tl, jws.WithKey(jwa.EdDSA(), k))
	if err != nil {
		t.Fatalf("the trust list does not verify with the hub key: %v", err)
	}
	var p trustListPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Exp-p.Iat != int64(24*time.Hour/time.Second) || p.Iss != strings.TrimRight(h.API.PublicURL, "/") {
		t.Fatalf("iss %q iat %d exp %d; want the public URL %q and 24 h", p.Iss, p.Iat, p.Exp, h.API.PublicURL)
	}

	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(h.getPublic("/.well-known/jwks.json"), &set); err != nil {
		t.Fatal(err)
	}
	jwks := map[string]map[string]any{}
	for _, e := range set.Keys {
		jwks[e["kid"].(string)] = e
	}
	if got, want := len(p.Keys), len(set.Keys)-1; got != want { // the JWKS also has the hub key
		t.Fatalf("%d keys in the trust list, %d seal keys in the JWKS", got, want)
	}
	algs := map[string]bool{}
	for _, e := range p.Keys {
		algs[e.Alg] = true
		var j map[string]any
		if err := json.Unmarshal(e.JWK, &j); err != nil {
			t.Fatal(err)
		}
		want, ok := jwks[e.KID]
		if !ok || !jsonEqual(t, j, want) {
			t.Errorf("key %s: jwk %v, JWKS entry %v", e.KID, j, want)
		}
		if _, ok := j["x5c"]; !ok {
			t.Errorf("key %s has no x5c", e.KID)
		}
		wantState := "active"
		if e.KID == retired {
			wantState = "retired"
		}
		if e.State != wantState || (e.ValidUntil != nil) != (wantState == "retired") || e.ValidFrom == 0 {
			t.Errorf("key %s: state %q valid_from %d valid_until %v; want %s", e.KID, e.State, e.ValidFrom, e.ValidUntil, wantState)
		}
		if e.Authority == marketCode && e.AuthorityName != "杭州市市场监督管理局" {
			t.Errorf("key %s: authority name %q", e.KID, e.AuthorityName)
		}
	}
	for _, a := range []string{"ES256", "EdDSA", "SM2SM3"} {
		if !algs[a] {
			t.Errorf("no %s key in the trust list", a)
		}
	}

	parts := strings.Split(string(tl), ".")
	forged := bytes.Replace(payload, []byte(`"state":"retired"`), []byte(`"state":"active"`), 1)
	if bytes.Equal(forged, payload) {
		t.Fatal("nothing to tamper with")
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	if _, err := jws.Verify([]byte(tampered), jws.WithKey(jwa.EdDSA(), k)); err == nil {
		t.Fatal("a tampered trust list verifies")
	}

	resp, err := http.Get(h.Srv.URL + "/.well-known/certhub-trust-list")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequest("GET", h.Srv.URL+"/.well-known/certhub-trust-list", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The same list within the 5-minute window, unless the window turned
	// between the two requests.
	if resp.StatusCode != http.StatusNotModified && resp.Header.Get("ETag") == etag {
		t.Fatalf("If-None-Match with the current ETag: %d", resp.StatusCode)
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// jose 6's jwtVerify accepts the trust list with the hub key from the
// JWKS and typ certhub-trust-list+jwt, refuses it after exp, under another
// typ, and tampered.
func TestTrustListJose(t *testing.T) {
	t.Parallel()
	node, dir := testenv.NPM(t, "jose@6")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script, err := os.ReadFile("testdata/trustlist-jose.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trustlist.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}

	h, _ := trustListHub(t)
	tl := string(h.getPublic("/.well-known/certhub-trust-list"))
	parts := strings.Split(tl, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var p trustListPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	forged := bytes.Replace(raw, []byte(`"state":"retired"`), []byte(`"state":"active"`), 1)
	in, _ := json.Marshal(map[string]any{
		"jwks": json.RawMessage(h.getPublic("/.well-known/jwks.json")), "kid": h.API.AccessTokens.Key.KID(), "tl": tl,
		"tampered": parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2], "later": p.Exp + 60,
	})
	cmd := exec.CommandContext(ctx, node, "trustlist.mjs")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v: %s", err, stderr.String())
	}
	var res struct {
		OK struct {
			KID   string `json:"kid"`
			Keys  int    `json:"keys"`
			Error string `json:"error"`
		} `json:"ok"`
		Tampered, Expired, WrongTyp string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.OK.Error != "" || res.OK.KID != h.API.AccessTokens.Key.KID() || res.OK.Keys != len(p.Keys) {
		t.Errorf("jose refuses the trust list or reads it wrong: %s", out)
	}
	if !strings.Contains(res.Tampered, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
		t.Errorf("tampered: %s", res.Tampered)
	}
	if !strings.Contains(res.Expired, "ERR_JWT_EXPIRED") {
		t.Errorf("after exp: %s", res.Expired)
	}
	if !strings.Contains(res.WrongTyp, "ERR_JWT_CLAIM_VALIDATION_FAILED") {
		t.Errorf("typ at+jwt: %s", res.WrongTyp)
	}
}
