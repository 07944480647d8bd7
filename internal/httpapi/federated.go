package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// Forwarded consumer calls (docs/federation.md, Lookups across hubs).

// fedCall is a call another hub forwarded, run here as its consumer.
type fedCall struct {
	principal *exchange.Principal
	requestID string
	hub       string
}

func fedCallOf(ctx context.Context) *fedCall {
	c, _ := ctx.Value(fedCallKey).(*fedCall)
	return c
}

// federationRequestID is the request id of a forwarded call being served,
// or "" (for the ledger).
func federationRequestID(ctx context.Context) string {
	if c := fedCallOf(ctx); c != nil {
		return c.requestID
	}
	return ""
}

// federationRequests serves a call another hub forwards for one of its
// consumers: the request is checked (federation.Service.Accept), run
// through this hub's own router as the consumer hub:<hub>/<consumer> —
// this hub's agreements decide, its ledger records it under the request
// id — and the answer is signed with the request's hash.
func (s *Server) federationRequests(w http.ResponseWriter, r *http.Request) {
	f := s.federationService(w, r)
	if f == nil {
		return
	}
	var body struct {
		Request string `json:"request"`
	}
	if err := s.decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if body.Request == "" {
		s.fail(w, r, errs.Field("request", "the signed request is required"))
		return
	}
	req, hash, err := f.Accept(r.Context(), []byte(body.Request))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status, answer := s.runForwarded(r.Context(), req)
	token, err := f.Answer(r.Context(), req, hash, status, answer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"response": string(token)})
}

// runForwarded runs a forwarded call as its consumer and returns the
// answer's status and body.
func (s *Server) runForwarded(ctx context.Context, req *federation.Request) (int, []byte) {
	id := exchange.FederatedConsumer(req.Issuer, req.Consumer)
	refuse := func(st int, code errs.Code, msg string) (int, []byte) {
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": string(code), "message": msg}})
		return st, b
	}
	if s.Consumers == nil {
		return refuse(http.StatusServiceUnavailable, errs.Unavailable, "this hub has no consumer registry")
	}
	c, err := s.Consumers.Store.Consumer(ctx, id)
	if errs.Is(err, errs.NotFound) || err == nil && c.Status != exchange.ConsumerActive {
		return refuse(http.StatusForbidden, errs.Forbidden, "hub "+req.Audience+" has no active agreement partner "+id+
			": its administrators register it (POST /api/v1/consumers with that id) and approve an agreement for it")
	}
	if err != nil {
		return refuse(http.StatusInternalServerError, errs.Internal, "internal error")
	}
	p := &exchange.Principal{Role: exchange.RoleConsumer, TokenID: "federation:" + req.ID, Name: c.Name, Consumer: id, Scopes: c.Scopes}
	target := req.Path
	if req.Query != "" {
		target += "?" + req.Query
	}
	// A fresh routing context: the router routes the call as a request of
	// its own, not as a sub-route of this one.
	ictx := context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil))
	ictx = context.WithValue(ictx, fedCallKey, &fedCall{principal: p, requestID: req.ID, hub: req.Issuer})
	ireq, err := http.NewRequestWithContext(ictx, req.Method, target, bytes.NewReader(req.Body))
	if err != nil {
		return refuse(http.StatusBadRequest, errs.Invalid, "the forwarded call is not a request: "+err.Error())
	}
	ireq.Header.Set("Content-Type", "application/json")
	ireq.Header.Set("X-Purpose", req.Purpose)
	ireq.Header.Set("X-Case-Id", req.CaseID)
	ireq.RemoteAddr = "federation:" + req.Issuer
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	s.router.ServeHTTP(rec, ireq)
	return rec.status, rec.body.Bytes()
}

// bufferedResponse keeps an answer in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(st int) {
	if !b.wrote {
		b.status, b.wrote = st, true
	}
}

// federatedActions name the requesting hub's ledger entry of a forwarded
// call (the far hub records the call itself: lookup, match).
var federatedActions = map[string]string{"GET /api/v1/certificates": "federated_lookup", "POST /api/v1/match": "federated_match"}

// Sides of a failed forwarded call.
const (
	sideLocal              = "local"
	sideRemoteHub          = "remote_hub"
	sideRemoteUnreachable  = "remote_unreachable"
	sideNotPermittedRemote = "not_permitted_remote"
)

// forward sends a consumer's call with scope=federation to the hub that
// holds certificates of typ, and answers what that hub answered (with
// hub and federation_request_id), or which side failed. It reports false
// when the call is this hub's to answer: typ is its own, or the call was
// itself forwarded here (a call crosses one hop).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, typ string, body []byte) bool {
	if s.Federation == nil || fedCallOf(r.Context()) != nil {
		return false
	}
	ctx := r.Context()
	p := principalOf(ctx)
	if p == nil || p.Role != exchange.RoleConsumer {
		s.fail(w, r, errs.Field("scope", "only department systems' calls go to other hubs (scope=federation)"))
		return true
	}
	if typ == "" {
		if r.Method == http.MethodGet && chi.RouteContext(ctx).RoutePattern() == "/api/v1/certificates" {
			s.findEverywhere(w, r)
			return true
		}
		s.fail(w, r, errs.Field("type", "scope=federation finds the hub by the certificate type: name it"))
		return true
	}
	if s.servesCopies(r, typ) {
		return false // this hub keeps the copies, and agreed to serve them
	}
	target, err := s.Federation.RouteType(ctx, typ)
	if errs.Is(err, errs.NotFound) {
		s.fail(w, r, errs.Field("scope", "this hub is in no federation"))
		return true
	}
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if target == "" {
		return false
	}
	out, failed, err := s.askHub(r, target, body)
	switch {
	case err != nil:
		s.fail(w, r, err)
	case failed != nil:
		w.Header().Set("X-Certhub-Request-Id", failed.requestID)
		s.failSide(w, r, failed.status, failed.code, failed.msg, failed.side, failed.hub, failed.requestID)
	default:
		w.Header().Set("X-Certhub-Request-Id", out["federation_request_id"].(string))
		s.writeJSON(w, http.StatusOK, out)
	}
	return true
}

// findEverywhere answers a department's lookup of one holder in every
// hub of the federation at once (GET /api/v1/certificates?scope=federation
// with holder_id and no type): this hub's own answer, under its own
// agreements, and the root's, which keeps the copies every hub aggregates
// up to it (归集), under the root's agreements for hub:<this hub>/<the
// department>. The root's answer adds the certificates of the other hubs
// (each names its hub); this hub's own certificates are answered here,
// where they are held and its agreements decide. When the root cannot be
// asked or refuses, the answer is this hub's alone, with
// federation_error saying which side failed: the department sees what it
// has and that it is not everything.
func (s *Server) findEverywhere(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.URL.Query().Get("holder_id") == "" {
		s.fail(w, r, errs.Field("holder_id", "a lookup in every hub (scope=federation without a type) is of one holder: name it"))
		return
	}
	self, err := s.Federation.Self(ctx)
	if errs.Is(err, errs.NotFound) {
		s.fail(w, r, errs.Field("scope", "this hub is in no federation"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// This hub's own answer: the lookup as if scope=local.
	q := r.URL.Query()
	q.Del("scope")
	lr := r.Clone(context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil)))
	lr.URL.RawQuery = q.Encode()
	lr.RequestURI = lr.URL.RequestURI()
	local := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	s.router.ServeHTTP(local, lr)
	if local.status != http.StatusOK || self.IsRoot() {
		for k, v := range local.header {
			w.Header()[k] = v
		}
		w.WriteHeader(local.status)
		_, _ = w.Write(local.body.Bytes())
		return
	}
	var out map[string]any
	if err := json.Unmarshal(local.body.Bytes(), &out); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, k := range []string{"X-Agreement-Id"} {
		if v := local.header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	mine, _ := out["certificates"].([]any)
	seen := map[string]bool{}
	for _, c := range mine {
		if id, ok := c.(map[string]any)["id"].(string); ok {
			seen[id] = true
		}
	}
	root := self.Root.HubID
	far, failed, err := s.askHub(r, root, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out["hubs_asked"] = []string{root}
	if failed != nil {
		s.Log.WarnContext(ctx, "lookup in every hub: the root's part failed", "side", failed.side, "hub", root, "federation_request_id", failed.requestID)
		out["federation_error"] = map[string]any{"code": failed.code, "message": failed.msg, "side": failed.side, "hub": failed.hub}
		out["federation_request_id"] = failed.requestID
		w.Header().Set("X-Certhub-Request-Id", failed.requestID)
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	rootHub := s.hubOf(ctx, root)
	theirs, _ := far["certificates"].([]any)
	for _, c := range theirs {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		h, _ := m["hub"].(map[string]any)
		if h == nil {
			m["hub"] = rootHub // the root's own
		} else if h["id"] == self.ID {
			continue // this hub's own, answered here under its agreements
		}
		if !seen[id] {
			seen[id] = true
			mine = append(mine, m)
		}
	}
	out["certificates"] = nonNil(mine)
	out["federation_request_id"] = far["federation_request_id"]
	w.Header().Set("X-Certhub-Request-Id", far["federation_request_id"].(string))
	s.writeJSON(w, http.StatusOK, out)
}

// fedFailure is a forwarded call that failed, and which side failed.
type fedFailure struct {
	status    int
	code      errs.Code
	msg, side string
	hub       *verifyHub
	requestID string
}

// askHub sends a consumer's call to hub target as a signed forwarded
// request and returns that hub's answer, with hub and
// federation_request_id added; or which side failed. Either way this
// hub's ledger records the call (federated_lookup, federated_match).
func (s *Server) askHub(r *http.Request, target string, body []byte) (map[string]any, *fedFailure, error) {
	ctx := r.Context()
	p := principalOf(ctx)
	a, err := s.access(r)
	if err != nil {
		return nil, nil, err
	}
	q := r.URL.Query()
	q.Del("scope")
	route := chi.RouteContext(ctx).RoutePattern()
	req := federation.Request{ID: exchange.NewID("req_"), Consumer: p.Consumer, ConsumerName: p.Name, Purpose: a.Purpose, CaseID: a.CaseID,
		Method: r.Method, Path: route, Query: q.Encode(), Body: body}
	hub := s.hubOf(ctx, target)
	entry := exchange.AuditEntry{Purpose: a.Purpose, CaseID: a.CaseID, RequestID: req.ID}
	action := federatedActions[r.Method+" "+route]
	failed := func(status int, code errs.Code, msg, side, outcome string) (map[string]any, *fedFailure, error) {
		entry.Outcome = outcome
		if err := s.record(r, action, entry); err != nil {
			return nil, nil, err
		}
		return nil, &fedFailure{status: status, code: code, msg: msg, side: side, hub: hub, requestID: req.ID}, nil
	}
	resp, err := s.Federation.Ask(ctx, target, req)
	var re *federation.RemoteError
	switch {
	case federation.ReasonOf(err) == federation.NoRoute:
		return failed(http.StatusServiceUnavailable, errs.Unavailable, err.Error(), sideLocal, "refused: "+sideLocal+": "+err.Error())
	case errors.As(err, &re) && re.Unreachable:
		return failed(http.StatusServiceUnavailable, errs.Unavailable, "hub "+target+" did not answer: "+re.Err.Error(), sideRemoteUnreachable,
			"failed: "+sideRemoteUnreachable+": "+err.Error())
	case errors.As(err, &re):
		return failed(http.StatusBadGateway, errs.Unavailable, "hub "+target+": "+re.Err.Error(), sideRemoteHub, "failed: "+sideRemoteHub+": "+err.Error())
	case err != nil:
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		var far struct {
			Error struct {
				Code    errs.Code `json:"code"`
				Message string    `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp.Body, &far)
		side := sideRemoteHub
		if resp.Status == http.StatusForbidden || resp.Status == http.StatusTooManyRequests {
			side = sideNotPermittedRemote
		}
		code := far.Error.Code
		if code == "" {
			code = errs.Internal
		}
		return failed(resp.Status, code, "hub "+target+": "+far.Error.Message, side,
			"refused: "+side+": hub "+target+" answered "+strconv.Itoa(resp.Status)+": "+far.Error.Message)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return failed(http.StatusBadGateway, errs.Unavailable, "hub "+target+" answered something that is not JSON", sideRemoteHub,
			"failed: "+sideRemoteHub+": hub "+target+" answered something that is not JSON")
	}
	entry.Outcome = "ok: hub " + target + " answered"
	if cs, ok := out["certificates"].([]any); ok {
		entry.Outcome += " " + strconv.Itoa(len(cs)) + " certificates"
		for _, c := range cs {
			if id, ok := c.(map[string]any)["id"].(string); ok {
				entry.Certificates = append(entry.Certificates, id)
			}
		}
	}
	if err := s.record(r, action, entry); err != nil {
		return nil, nil, err
	}
	out["hub"], out["federation_request_id"] = hub, req.ID
	return out, nil, nil
}

// failSide writes a failed forwarded call's error, saying which side
// failed and which hub was asked.
func (s *Server) failSide(w http.ResponseWriter, r *http.Request, status int, code errs.Code, msg, side string, hub *verifyHub, requestID string) {
	s.Log.WarnContext(r.Context(), "forwarded call failed", "side", side, "hub", hub.ID, "federation_request_id", requestID, "reason", msg)
	var b struct {
		Error struct {
			Code    errs.Code  `json:"code"`
			Message string     `json:"message"`
			Side    string     `json:"side"`
			Hub     *verifyHub `json:"hub"`
		} `json:"error"`
		FederationRequestID string `json:"federation_request_id"`
	}
	b.Error.Code, b.Error.Message, b.Error.Side, b.Error.Hub, b.FederationRequestID = code, msg, side, hub, requestID
	s.writeJSON(w, status, b)
}

// scopeOf reads ?scope=: local (the default) or federation.
func scopeOf(q url.Values) (federated bool, err error) {
	switch q.Get("scope") {
	case "", "local":
		return false, nil
	case "federation":
		return true, nil
	}
	return false, errs.Field("scope", "is local (this hub, the default) or federation (the hub that holds the type)")
}

// readForForward reads a body that may be forwarded and puts it back for
// the local handler.
func readForForward(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, errs.E(errs.TooLarge, "the body is over %d bytes", limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}
