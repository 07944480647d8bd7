package federation_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// TestRequestRefused: the province takes a forwarded request only signed
// by a hub its directory vouches for, addressed to it, within its minute,
// once, for a call hubs forward; everything else is refused with why.
func TestRequestRefused(t *testing.T) {
	c := &clock{time.Now()}
	prov, city, _, _ := federation3(t, c)
	ctx := context.Background()
	now := c.now()
	base := federation.Request{Issuer: "330100", Audience: "330000", ID: "req_1", IssuedAt: now.Unix(), Expires: now.Add(time.Minute).Unix(),
		Consumer: "csm_abc", ConsumerName: "市级受理平台", Purpose: "SX-1", CaseID: "C-1", Method: "GET", Path: "/api/v1/certificates",
		Query: "type=T&holder_id=X"}
	sign := func(k *signing.HubKey, r federation.Request) []byte {
		return must(k.Sign(must(json.Marshal(r)), federation.RequestType))
	}
	check := func(name string, tok []byte, code errs.Code) {
		t.Helper()
		_, _, err := prov.svc.Accept(ctx, tok)
		if !errs.Is(err, code) {
			t.Errorf("%s: %v, want %s", name, err, code)
		}
	}
	stranger := newNode(t, c)
	check("signed by another key", sign(stranger.key, base), errs.Unauthorized)
	other := base
	other.Issuer = "320100"
	check("a hub no chain vouches for", sign(city.key, other), errs.Unauthorized)
	other = base
	other.Audience = "330102"
	check("for another hub", sign(city.key, other), errs.Forbidden)
	other = base
	other.IssuedAt, other.Expires = now.Add(-2*time.Minute).Unix(), now.Add(-time.Minute).Unix()
	check("expired", sign(city.key, other), errs.Gone)
	other = base
	other.Expires = now.Add(time.Hour).Unix()
	check("valid too long", sign(city.key, other), errs.Gone)
	other = base
	other.Method, other.Path = "POST", "/api/v1/certificates"
	check("a call hubs do not forward", sign(city.key, other), errs.Forbidden)
	other = base
	other.Consumer = "../admin"
	check("a consumer id that is not one", sign(city.key, other), errs.Invalid)
	typed := must(city.key.Sign(must(json.Marshal(base)), federation.ResponseType))
	check("a response presented as a request", typed, errs.Unauthorized)
	check("not a JWS", []byte("hello"), errs.Invalid)

	good := sign(city.key, base)
	req, hash, err := prov.svc.Accept(ctx, good)
	if err != nil || req.ID != "req_1" || req.Consumer != "csm_abc" || len(hash) != 64 {
		t.Fatalf("a good request: %+v %v", req, err)
	}
	check("the same request again", good, errs.Conflict)
	// The answer names the request and its hash, signed by the province.
	ans := must(prov.svc.Answer(ctx, req, hash, 200, []byte(`{"certificates":[]}`)))
	pub := must(signing.ParseHubPublicKey(prov.key.PublicJWK()))
	payload, _, err := signing.VerifyHubSigned(ans, pub, federation.ResponseType)
	if err != nil {
		t.Fatal(err)
	}
	var r federation.Response
	noErr(t, json.Unmarshal(payload, &r))
	if r.RequestID != "req_1" || r.RequestSHA256 != hash || r.Audience != "330100" || r.Issuer != "330000" || r.Status != 200 {
		t.Fatalf("response %+v", r)
	}
}
