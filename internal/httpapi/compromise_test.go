package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

type verifyAnswer struct {
	Valid   bool     `json:"valid"`
	Reasons []string `json:"reasons"`
}

func (h *hub) verifyDocument(doc string) verifyAnswer {
	h.t.Helper()
	var v verifyAnswer
	if st := h.call("POST", "/api/v1/verify", "", map[string]string{"document": doc}, &v); st != 200 {
		h.t.Fatalf("verify: %d", st)
	}
	return v
}

// A key marked compromised from an instant: a document it sealed before
// stays valid, one sealed after (the hub's clock moved on) is invalid with
// key_compromised; the trust list shows the key compromised from that
// instant, and the mark is in the audit ledger.
func TestKeyCompromise(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	kid := h.activeKID(marketCode, "ES256")
	var before struct{ Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &before); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	h.Clock.Advance(time.Hour)
	from := h.Clock.Now().UTC().Truncate(time.Second)
	var marked struct {
		CompromisedFrom  time.Time `json:"compromised_from"`
		CompromiseReason string    `json:"compromise_reason"`
	}
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/"+kid+"/compromise", h.Admin,
		map[string]string{"from": from.Format(time.RFC3339), "reason": "签章服务器被入侵"}, &marked); st != 200 {
		t.Fatalf("compromise: %d", st)
	}
	if !marked.CompromisedFrom.Equal(from) || marked.CompromiseReason != "签章服务器被入侵" {
		t.Fatalf("marked key: %+v, want from %v", marked, from)
	}
	h.Clock.Advance(time.Hour)
	var after struct{ Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &after); st != 201 {
		t.Fatalf("issue after: %d", st)
	}
	if v := h.verifyDocument(before.Document); !v.Valid {
		t.Errorf("a document sealed before the compromise: %+v", v)
	}
	if v := h.verifyDocument(after.Document); v.Valid || !contains(v.Reasons, "key_compromised") {
		t.Errorf("a document sealed after the compromise: %+v", v)
	}

	tl := h.getPublic("/.well-known/certhub-trust-list")
	hubKey, ok := h.jwks().LookupKeyID(h.API.AccessTokens.Key.KID())
	if !ok {
		t.Fatal("the hub key is not in the JWKS")
	}
	payload, err := jws.Verify(tl, jws.WithKey(jwa.EdDSA(), hubKey))
	if err != nil {
		t.Fatal(err)
	}
	var p trustListPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range p.Keys {
		if k.KID == kid {
			found = true
			if k.State != "compromised" || k.CompromisedFrom == nil || *k.CompromisedFrom != from.Unix() {
				t.Errorf("trust list entry of the compromised key: %+v", k)
			}
		} else if k.State != "active" || k.CompromisedFrom != nil {
			t.Errorf("trust list entry of %s: %+v", k.KID, k)
		}
	}
	if !found {
		t.Fatalf("key %s is not in the trust list", kid)
	}
	n := 0
	for _, e := range h.ledger() {
		if e.Action == "key_compromise" && strings.Contains(e.Outcome, kid) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d key_compromise entries for %s in the audit ledger, want 1", n, kid)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Bad input to the compromise endpoint: 400 naming the field, and the key
// stays unmarked.
func TestKeyCompromiseBadInput(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	kid := h.activeKID(marketCode, "ES256")
	path := "/api/v1/authorities/" + marketCode + "/keys/" + kid + "/compromise"
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"missing from", map[string]string{"reason": "x"}, "from"},
		{"not RFC 3339", map[string]string{"from": "2026-12-01"}, "from"},
		{"in the future", map[string]string{"from": h.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "from"},
		{"reason too long", map[string]string{"from": h.Clock.Now().UTC().Format(time.RFC3339), "reason": strings.Repeat("x", 501)}, "reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				Error struct {
					Field string `json:"field"`
				} `json:"error"`
			}
			if st := h.call("POST", path, h.Admin, tc.body, &e); st != 400 || e.Error.Field != tc.field {
				t.Fatalf("%d, field %q; want 400 naming %s", st, e.Error.Field, tc.field)
			}
		})
	}
	k, err := h.API.Keys.Key(t.Context(), kid)
	if err != nil {
		t.Fatal(err)
	}
	if k.CompromisedFrom != nil || k.CompromiseReason != "" {
		t.Fatalf("bad input stored a mark: %+v", k)
	}
	if st := h.call("POST", "/api/v1/authorities/"+otherCode+"/keys/"+kid+"/compromise", h.Admin,
		map[string]string{"from": h.Clock.Now().UTC().Format(time.RFC3339)}, nil); st != 404 {
		t.Fatalf("another authority's key: %d, want 404", st)
	}
}
