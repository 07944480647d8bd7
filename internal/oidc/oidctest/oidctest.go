// Package oidctest is an OpenID Connect provider for tests: it makes its own
// ES256 key and serves discovery, the JWKS, an authorization endpoint that
// signs in a chosen person at once, and a token endpoint that checks PKCE.
// Tests mint tokens with any claims (good or deliberately wrong).
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/certhub/certhub/internal/oidc"
)

// Provider is a running test provider.
type Provider struct {
	t        testing.TB
	srv      *httptest.Server
	key      jwk.Key
	Audience string
	// Next is whom the authorization endpoint signs in.
	Next map[string]any

	mu    sync.Mutex
	codes map[string]pending
}

type pending struct {
	claims    map[string]any
	challenge string
	nonce     string
}

// New starts a provider on a random loopback port.
func New(t testing.TB) *Provider {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "test-key-1")
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256())
	p := &Provider{t: t, key: key, Audience: "certhub-test", codes: map[string]pending{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.Issuer(), "jwks_uri": p.Issuer() + "/jwks",
			"authorization_endpoint": p.Issuer() + "/authorize", "token_endpoint": p.Issuer() + "/token"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		pub, _ := key.PublicKey()
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("/authorize", p.authorize)
	mux.HandleFunc("/token", p.token)
	// p.srv is set before the server serves: a request can arrive at once
	// (a hub of another test, configured with a provider that had this
	// port before), and the handlers read p.srv.
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.srv.URL }

// Config is how certhub connects to this provider.
func (p *Provider) Config(redirect string) oidc.Config {
	return oidc.Config{Issuer: p.Issuer(), Audience: p.Audience, RedirectURL: redirect}
}

// Claims returns good claims for a holder id, valid for an hour.
func (p *Provider) Claims(holderID, name string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": p.Issuer(), "aud": p.Audience, "sub": "user-" + holderID, "id_number": holderID,
		"name": name, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// Mint signs claims with the provider's key.
func (p *Provider) Mint(claims map[string]any) string {
	return Mint(p.t, p.key, claims)
}

// Mint signs claims with any key (a stranger's, for negative tests).
func Mint(t testing.TB, key jwk.Key, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// StrangerKey is a key the provider does not publish.
func StrangerKey(t testing.TB) jwk.Key {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := jwk.Import(raw)
	_ = key.Set(jwk.KeyIDKey, "test-key-1") // same kid, wrong key
	return key
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != p.Audience {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := oidcRandom()
	p.mu.Lock()
	p.codes[code] = pending{claims: p.Next, challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.mu.Lock()
	pd, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	if !ok || oidc.PKCE(r.PostForm.Get("code_verifier")) != pd.challenge {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	claims := map[string]any{}
	for k, v := range pd.claims {
		claims[k] = v
	}
	claims["nonce"] = pd.nonce
	_ = json.NewEncoder(w).Encode(map[string]string{"id_token": p.Mint(claims), "token_type": "Bearer"})
}

func oidcRandom() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
