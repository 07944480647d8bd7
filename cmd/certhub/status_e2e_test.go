package main_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/statuslist"
)

// tslEntry reads a document's entry from replica p's copy of the Token
// Status List its status claim names, and returns the list's raw bytes.
func tslEntry(t *testing.T, p *proc, doc string) (statuslist.Status, []byte) {
	t.Helper()
	var claims struct {
		Status statuslist.Claim `json:"status"`
	}
	jwtPayload(t, doc, &claims)
	u, err := url.Parse(claims.Status.StatusList.URI)
	if err != nil {
		t.Fatal(err)
	}
	got := p.do("GET", u.Path, "", nil)
	if got.status != 200 {
		t.Fatalf("GET %s: %d %s", u.Path, got.status, got.body)
	}
	var tsl statuslist.TSLClaims
	jwtPayload(t, string(got.body), &tsl)
	l, err := tsl.List(statuslist.MinSize)
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Get(claims.Status.StatusList.Idx)
	if err != nil {
		t.Fatal(err)
	}
	return s, got.body
}

func jwtPayload(t *testing.T, compact string, out any) {
	t.Helper()
	parts := strings.Split(compact, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(parts) != 3 {
		t.Fatalf("not a compact JWS: %.60s", compact)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}

// statusAcrossReplicas: a revocation on replica a shows in replica b's
// status list once b's 5-second freshness has passed (b has no cache
// invalidation from a: it reads the shared database again), and both
// replicas serve the same bits with the same iat in the same signing
// window.
func statusAcrossReplicas(t *testing.T, a, b *proc, issuer, doc, id string) {
	t.Helper()
	if s, _ := tslEntry(t, b, doc); s != statuslist.Valid {
		t.Fatalf("replica b lists a new licence as %d", s)
	}
	a.must(200, "POST", "/api/v1/certificates/"+id+"/revoke", issuer, map[string]string{"reason": "吊销"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, bodyB := tslEntry(t, b, doc)
		if s == statuslist.Invalid {
			_, bodyA := tslEntry(t, a, doc)
			var ca, cb statuslist.TSLClaims
			jwtPayload(t, string(bodyA), &ca)
			jwtPayload(t, string(bodyB), &cb)
			// Each replica here has its own public URL (so its own sub);
			// in the same window they agree on iat and bits.
			if ca.IssuedAt == cb.IssuedAt && ca.StatusList != cb.StatusList {
				t.Fatal("replicas serve different bits in the same window")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b still lists the licence revoked on a as %d", s)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
