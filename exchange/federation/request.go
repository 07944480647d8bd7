package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Forwarded consumer calls (跨地区查询): a department system of hub A asks
// for certificates another hub holds. Hub A signs a request naming the
// consumer, its purpose and case and a request id; the far hub checks it,
// runs the call as the consumer hub:<A>/<consumer> under its own
// agreements, and signs its answer with the request's hash. Both ledgers
// record the call under the request id.

const (
	// RequestType and ResponseType are the typ of the two statements.
	RequestType  = "certhub-request+jwt"
	ResponseType = "certhub-response+jwt"
	// RequestTTL is how long a request may be presented after it is made.
	RequestTTL = time.Minute
	// RequestsPath is where a hub takes forwarded calls.
	RequestsPath = "/api/v1/federation/requests"
)

// ForwardedRoutes are the consumer calls a hub forwards and serves for
// another hub's consumers (method and route pattern).
var ForwardedRoutes = []string{"GET /api/v1/certificates", "POST /api/v1/match"}

// Request is a forwarded call, as the requesting hub signs it.
type Request struct {
	Issuer       string          `json:"iss"` // the requesting hub
	Audience     string          `json:"aud"` // the hub asked
	ID           string          `json:"jti"` // the request id, in both ledgers
	IssuedAt     int64           `json:"iat"`
	Expires      int64           `json:"exp"`
	Consumer     string          `json:"consumer"` // its id at the requesting hub
	ConsumerName string          `json:"consumer_name"`
	Purpose      string          `json:"purpose"`
	CaseID       string          `json:"case_id"`
	Method       string          `json:"method"`
	Path         string          `json:"path"`
	Query        string          `json:"query,omitempty"`
	Body         json.RawMessage `json:"body,omitempty"`
}

// Route is the request's method and route pattern, as in ForwardedRoutes.
func (r *Request) Route() string { return r.Method + " " + r.Path }

// Response is the far hub's signed answer.
type Response struct {
	Issuer        string          `json:"iss"`
	Audience      string          `json:"aud"`
	RequestID     string          `json:"request_id"`
	RequestSHA256 string          `json:"request_sha256"`
	IssuedAt      int64           `json:"iat"`
	Status        int             `json:"status"`
	Body          json.RawMessage `json:"body"`
}

// requestHash is the hex SHA-256 of the signed request as sent.
func requestHash(token []byte) string {
	sum := sha256.Sum256(bytes.TrimSpace(token))
	return hex.EncodeToString(sum[:])
}

// Ask signs req for hub target, sends it, and checks the answer: signed by
// an active key of target, for this hub, for this request (its hash). The
// errors say which side failed: a RemoteError (Unreachable or not) for the
// far hub, a Reason NoRoute when target has no live entry.
func (s *Service) Ask(ctx context.Context, target string, req Request) (*Response, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.Live(ctx, target)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ForwardedRoutes, req.Route()) {
		return nil, errs.E(errs.Invalid, "%s is not a call hubs forward", req.Route())
	}
	now := s.now()
	req.Issuer, req.Audience, req.IssuedAt, req.Expires = self.ID, target, now.Unix(), now.Add(RequestTTL).Unix()
	if req.ID == "" {
		req.ID = exchange.NewID("req_")
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	token, err := s.Key.Sign(payload, RequestType)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"request": string(token)})
	url := strings.TrimRight(e.URL, "/") + RequestsPath
	st, status, b, err := s.roundTrip(ctx, target, http.MethodPost, url, body, nil, maxAnswer)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK || len(b) > maxAnswer {
		return nil, farError(target, http.MethodPost, url, status, b)
	}
	var wrapped struct {
		Response string `json:"response"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil || wrapped.Response == "" {
		return nil, &RemoteError{Hub: target, Err: fmt.Errorf("the answer holds no signed response")}
	}
	var r Response
	kid, err := Peek(wrapped.Response, &r)
	if err == nil {
		err = verifyBy(wrapped.Response, ResponseType, kid, &e.Hub, &r)
	}
	switch {
	case err != nil:
		err = fmt.Errorf("the response is not signed by hub %s: %w", target, err)
	case r.Issuer != target || r.Audience != self.ID || r.RequestID != req.ID:
		err = fmt.Errorf("the response is by %q for %q about request %q", r.Issuer, r.Audience, r.RequestID)
	case r.RequestSHA256 != requestHash(token):
		err = fmt.Errorf("the response answers another request (its request hash differs)")
	}
	if err != nil {
		return nil, &RemoteError{Hub: target, Err: err}
	}
	return &r, nil
}

// Accept checks a forwarded request: signed by an active key of a hub this
// hub's directory vouches for live, addressed to this hub, not expired,
// not seen before (its id is kept), for a call hubs forward. It returns
// the request and its hash (for the response). A refusal is recorded in
// the ledger.
func (s *Service) Accept(ctx context.Context, token []byte) (*Request, string, error) {
	req, err := s.accept(ctx, token)
	if err != nil {
		actor := "hub:unknown"
		if req != nil && req.Issuer != "" {
			actor = "hub:" + req.Issuer
		}
		e := exchange.AuditEntry{Actor: actor, ActorName: actor, Action: "federation_request", Outcome: "refused: " + err.Error()}
		if req != nil {
			e.RequestID, e.Purpose, e.CaseID = req.ID, req.Purpose, req.CaseID
		}
		if s.Ledger != nil {
			_ = s.Ledger.Record(ctx, e)
		}
		return nil, "", err
	}
	return req, requestHash(token), nil
}

func (s *Service) accept(ctx context.Context, token []byte) (*Request, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	tok := string(bytes.TrimSpace(token))
	var claimed Request
	kid, err := Peek(tok, &claimed)
	if err != nil {
		return nil, errs.Field("request", "not a signed request: %v", err)
	}
	e, err := s.Live(ctx, claimed.Issuer)
	if err != nil {
		return &claimed, errs.E(errs.Unauthorized, "the request names hub %q, which this hub's directory does not vouch for: %v", claimed.Issuer, err)
	}
	var req Request
	if err := verifyBy(tok, RequestType, kid, &e.Hub, &req); err != nil {
		return &claimed, errs.E(errs.Unauthorized, "the request is not signed by hub %s: %v", claimed.Issuer, err)
	}
	now := s.now()
	switch {
	case req.Audience != self.ID:
		return &req, errs.E(errs.Forbidden, "the request is for hub %q, this is %s", req.Audience, self.ID)
	case req.ID == "" || len(req.ID) > 64:
		return &req, errs.Field("jti", "a request id of up to 64 characters is required")
	case time.Unix(req.IssuedAt, 0).After(now.Add(clockSkew)):
		return &req, errs.Field("iat", "the request is issued in the future")
	case !now.Before(time.Unix(req.Expires, 0)) || req.Expires-req.IssuedAt > int64(2*RequestTTL/time.Second):
		return &req, errs.E(errs.Gone, "the request expired at %s", time.Unix(req.Expires, 0).UTC().Format(time.RFC3339))
	case !slices.Contains(ForwardedRoutes, req.Route()):
		return &req, errs.E(errs.Forbidden, "%s is not a call hubs forward", req.Route())
	case req.Consumer == "" || !exchange.FederatedConsumerID(exchange.FederatedConsumer(req.Issuer, req.Consumer)):
		return &req, errs.Field("consumer", "the requesting consumer's id is required (letters, digits, _ and -)")
	}
	if err := s.Store.RememberRequest(ctx, req.ID, req.Issuer, now.UTC()); err != nil {
		if errs.Is(err, errs.Conflict) {
			return &req, errs.E(errs.Conflict, "request id %s was presented before: a request is answered once", req.ID)
		}
		return &req, err
	}
	return &req, nil
}

// Answer signs the response to req (whose hash is hash).
func (s *Service) Answer(ctx context.Context, req *Request, hash string, status int, body []byte) ([]byte, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		body, _ = json.Marshal(string(body))
	}
	r := Response{Issuer: self.ID, Audience: req.Issuer, RequestID: req.ID, RequestSHA256: hash, IssuedAt: s.now().Unix(),
		Status: status, Body: body}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return s.Key.Sign(b, ResponseType)
}

// RouteType names the hub that holds certificates of a type: the hub whose
// entry lists it (the deepest level when several do), else this hub's
// parent; "" when it is this hub's own, or this is the root and no hub
// lists it.
func (s *Service) RouteType(ctx context.Context, typ string) (string, error) {
	return s.route(ctx, func(e *Entry) bool { return slices.Contains(e.Types, typ) })
}

// HolderOf implements exchange.Remote: the hub that holds certificates of
// typ, when it is another hub ("" when it is this one's, or nobody's).
func (s *Service) HolderOf(ctx context.Context, typ string) (string, error) {
	hub, err := s.RouteType(ctx, typ)
	if err != nil || hub == "" {
		return "", err
	}
	// Only a type some hub lists: the parent fallback of RouteType is for
	// calls, not for telling whether a type exists.
	v, err := s.View(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range v.Hubs {
		if slices.Contains(e.Types, typ) {
			return hub, nil
		}
	}
	return "", nil
}

// FindRemote implements exchange.Remote: a forwarded lookup of holderID's
// certificates of typ at hub, as consumer by.
func (s *Service) FindRemote(ctx context.Context, by *exchange.Principal, hub, typ string, kind certificates.HolderKind, holderID, purpose,
	caseID string) (*exchange.RemoteFind, error) {
	q := url.Values{"type": {typ}, "holder_id": {holderID}}
	if kind != "" {
		q.Set("holder_kind", string(kind))
	}
	req := Request{ID: exchange.NewID("req_"), Consumer: by.Consumer, ConsumerName: by.Name, Purpose: purpose, CaseID: caseID,
		Method: http.MethodGet, Path: "/api/v1/certificates", Query: q.Encode()}
	find := &exchange.RemoteFind{Hub: hub, RequestID: req.ID}
	if v, err := s.View(ctx); err == nil && v.Hub(hub) != nil {
		find.HubName = v.Hub(hub).Name
	}
	resp, err := s.Ask(ctx, hub, req)
	var re *RemoteError
	switch {
	case ReasonOf(err) == NoRoute:
		return find, errs.E(errs.Unavailable, "local: %v", err)
	case errors.As(err, &re) && re.Unreachable:
		return find, errs.E(errs.Unavailable, "remote_unreachable: %v", re.Err)
	case errors.As(err, &re):
		return find, errs.E(errs.Unavailable, "remote_hub: %v", re.Err)
	case err != nil:
		return nil, err
	}
	var body struct {
		Certificates []exchange.RemoteCertificate `json:"certificates"`
		Error        struct{ Message string }     `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &body)
	switch {
	case resp.Status == http.StatusForbidden || resp.Status == http.StatusTooManyRequests:
		return find, errs.E(errs.Forbidden, "not_permitted_remote: %s", body.Error.Message)
	case resp.Status != http.StatusOK:
		return find, errs.E(errs.Unavailable, "remote_hub: it answered %d: %s", resp.Status, body.Error.Message)
	}
	find.Certificates = body.Certificates
	return find, nil
}
