package httpapi_test

import (
	"crypto"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/exchange"
)

// TestWebhookKeyFoundByKID follows what docs/operations.md tells a
// receiver: take the kid from the protected header of X-Certhub-Signature,
// find that key in /.well-known/jwks.json and verify the body with it. The
// kid is there, it is the key's RFC 7638 thumbprint, and it is the hub key.
func TestWebhookKeyFoundByKID(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	consumer, key := h.newConsumer("监管平台")
	h.agreement(consumer, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	var mu sync.Mutex
	var sig string
	var body []byte
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if sig == "" {
			sig, body = r.Header.Get("X-Certhub-Signature"), b
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": rc.URL + "/hook", "types": []string{licence}}, nil); st != 201 {
		t.Fatalf("subscribe: %d", st)
	}
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	h.waitFor("a signed webhook", func() bool { mu.Lock(); defer mu.Unlock(); return sig != "" })

	msg, err := jws.Parse([]byte(sig), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		t.Fatalf("X-Certhub-Signature %q: %v", sig, err)
	}
	kid, ok := msg.Signatures()[0].ProtectedHeaders().KeyID()
	if !ok || kid == "" {
		t.Fatalf("X-Certhub-Signature names no kid: %q", sig)
	}
	k, ok := h.jwks().LookupKeyID(kid)
	if !ok {
		t.Fatalf("the signature's kid %q is not in /.well-known/jwks.json", kid)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(tp); got != kid {
		t.Fatalf("kid %q, but the key's RFC 7638 thumbprint is %q", kid, got)
	}
	if kid != h.API.AccessTokens.Key.KID() {
		t.Fatalf("kid %q is not the hub key's (%q)", kid, h.API.AccessTokens.Key.KID())
	}
	if _, err := jws.Verify([]byte(sig), jws.WithKey(jwa.EdDSA(), k), jws.WithDetachedPayload(body)); err != nil {
		t.Fatalf("the body does not verify with the key of that kid: %v", err)
	}
}
