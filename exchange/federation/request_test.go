package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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

// roundTrip sends every request of a client to handler, in process.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAskChecksTheResponse: the city takes the county's answer only when
// it is signed by the county, for the city, about this very request (its
// hash); a response that answers another request, or is signed by anyone
// else, is refused as the far hub's fault (remote_hub).
func TestAskChecksTheResponse(t *testing.T) {
	c := &clock{time.Now()}
	_, city, county, _ := federation3(t, c)
	ctx := context.Background()
	stranger := newNode(t, c)
	var forge func(r *federation.Response) *signing.HubKey
	city.svc.Client = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		var body struct{ Request string }
		noErr(t, json.NewDecoder(r.Body).Decode(&body))
		req, hash, err := county.svc.Accept(ctx, []byte(body.Request))
		if err != nil {
			return nil, err
		}
		resp := federation.Response{Issuer: "330102", Audience: "330100", RequestID: req.ID, RequestSHA256: hash, IssuedAt: c.now().Unix(),
			Status: 200, Body: json.RawMessage(`{"certificates":[]}`)}
		key := forge(&resp)
		tok := must(key.Sign(must(json.Marshal(resp)), federation.ResponseType))
		rec := httptest.NewRecorder()
		rec.WriteString(`{"response":"` + string(tok) + `"}`)
		return rec.Result(), nil
	})}
	ask := func() error {
		_, err := city.svc.Ask(ctx, "330102", federation.Request{Consumer: "csm_1", ConsumerName: "x", Purpose: "P", CaseID: "C",
			Method: "GET", Path: "/api/v1/certificates", Query: "type=T&holder_id=H"})
		return err
	}
	forge = func(*federation.Response) *signing.HubKey { return county.key }
	if err := ask(); err != nil {
		t.Fatalf("a true answer: %v", err)
	}
	cases := map[string]func(r *federation.Response) *signing.HubKey{
		"another request's hash": func(r *federation.Response) *signing.HubKey {
			r.RequestSHA256 = strings.Repeat("0", 64)
			return county.key
		},
		"another request id":   func(r *federation.Response) *signing.HubKey { r.RequestID = "req_other"; return county.key },
		"for another hub":      func(r *federation.Response) *signing.HubKey { r.Audience = "330000"; return county.key },
		"signed by a stranger": func(r *federation.Response) *signing.HubKey { return stranger.key },
	}
	for name, f := range cases {
		forge = f
		var re *federation.RemoteError
		if err := ask(); !errors.As(err, &re) || re.Unreachable {
			t.Errorf("%s: %v, want a remote_hub refusal", name, err)
		}
	}
}
