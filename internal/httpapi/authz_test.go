package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/httpapi"
)

// TestAuthorization calls every endpoint as every role and without a token.
// A role the route does not name gets 403, no token gets 401, and a role it
// names gets neither.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	tokens := map[exchange.Role]string{
		exchange.RoleAdmin:    h.Admin,
		exchange.RoleIssuer:   h.token(exchange.RoleIssuer, marketCode),
		exchange.RoleConsumer: h.token(exchange.RoleConsumer, ""),
		exchange.RoleClerk:    h.token(exchange.RoleClerk, ""),
		exchange.RoleHolder:   h.holderToken(companyID, "福建某某科技有限公司"),
	}
	// The authority in the paths seals with SM2 (SM2SM3 documents) beside
	// its ES256 key: every route is tried on national-algorithm material.
	if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, map[string]string{"algorithm": "SM2"}, nil); st != 201 {
		t.Fatalf("add SM2 key: %d", st)
	}
	if st := h.call("PATCH", "/api/v1/authorities/"+marketCode, h.Admin, map[string]string{"document_algorithm": "SM2"}, nil); st != 200 {
		t.Fatalf("document algorithm SM2: %d", st)
	}
	var issued struct{ ID, Document string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 || !strings.Contains(issued.Document, "eyJhbGciOiJTTTJTTTMi") {
		t.Fatalf("issue an SM2SM3 document: %d %.40s", st, issued.Document)
	}
	kid := ""
	var keys struct{ Keys []struct{ KID, Alg string } }
	h.call("GET", "/api/v1/authorities/"+marketCode+"/keys", h.Admin, nil, &keys)
	for _, k := range keys.Keys {
		if k.Alg == "SM2" {
			kid = k.KID
		}
	}
	params := strings.NewReplacer("{code}", marketCode, "{id}", issued.ID, "{kid}", kid, "{list}", "1")
	for _, rt := range httpapi.Routes {
		path := params.Replace(rt.Pattern)
		if rt.Pattern == "/api/v1/tokens/{id}" {
			path = "/api/v1/tokens/tok_unknown"
		}
		allowed := map[exchange.Role]bool{}
		for _, r := range rt.Roles {
			allowed[r] = true
		}
		who := append([]exchange.Role{""}, exchange.Roles...)
		for _, role := range who {
			name := string(role)
			if name == "" {
				name = "anonymous"
			}
			t.Run(rt.Method+" "+rt.Pattern+" as "+name, func(t *testing.T) {
				st := h.call(rt.Method, path, tokens[role], "{}", nil, "X-Purpose", "SX-001", "X-Case-Id", "case-1")
				switch {
				case rt.Public():
					if st == http.StatusUnauthorized || st == http.StatusForbidden {
						t.Fatalf("public route answered %d", st)
					}
				case role == "":
					if st != http.StatusUnauthorized {
						t.Fatalf("without a token: %d, want 401", st)
					}
				case !allowed[role]:
					if st != http.StatusForbidden {
						t.Fatalf("role %s: %d, want 403", role, st)
					}
				default:
					if st == http.StatusUnauthorized || st == http.StatusForbidden {
						t.Fatalf("role %s is allowed but got %d", role, st)
					}
				}
			})
		}
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	var created struct {
		ID, Token string
		Role      string
	}
	_, consumer := h.consumerKey(testPurposes...)
	if st := h.call("POST", "/api/v1/tokens", h.Admin, map[string]string{"name": "审批系统", "role": "consumer", "consumer": consumer}, &created); st != 201 {
		t.Fatalf("create: %d", st)
	}
	if !strings.HasPrefix(created.Token, "chk_") || created.ID == "" {
		t.Fatalf("created = %+v", created)
	}
	hdr := []string{"X-Purpose", "SX-001", "X-Case-Id", "c"}
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, created.Token, nil, nil, hdr...); st != 200 {
		t.Fatalf("fresh token: %d", st)
	}
	// The list shows the token but never its secret or hash.
	var list struct{ Tokens []map[string]any }
	h.call("GET", "/api/v1/tokens", h.Admin, nil, &list)
	if len(list.Tokens) != 2 || list.Tokens[1]["token"] != nil || list.Tokens[0]["hash"] != nil {
		t.Fatalf("list = %+v", list)
	}
	if st := h.call("DELETE", "/api/v1/tokens/"+created.ID, h.Admin, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st := h.call("GET", "/api/v1/certificates?holder_id="+companyID, created.Token, nil, nil, hdr...); st != 401 {
		t.Fatalf("revoked token: %d, want 401", st)
	}
	if st := h.call("DELETE", "/api/v1/tokens/tok_nope", h.Admin, nil, nil); st != 404 {
		t.Fatalf("revoke unknown: %d, want 404", st)
	}
	bad := []map[string]string{
		{"role": "consumer"},
		{"name": "x", "role": "consumer"},
		{"name": "x", "role": "consumer", "consumer": "csm_unknown"},
		{"name": "x", "role": "admin", "consumer": consumer},
		{"name": "x", "role": "god"},
		{"name": "x", "role": "issuer"},
		{"name": "x", "role": "issuer", "authority": "91350100M000100Y43"},
		{"name": "x", "role": "clerk", "authority": marketCode},
	}
	for _, b := range bad {
		if st := h.call("POST", "/api/v1/tokens", h.Admin, b, nil); st != 400 {
			t.Errorf("token %v: %d, want 400", b, st)
		}
	}
	if st := h.call("GET", "/api/v1/tokens", "chk_forged", nil, nil); st != 401 {
		t.Fatalf("forged token: %d", st)
	}
}
