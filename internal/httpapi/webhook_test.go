package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/metricstest"
)

// receiver is a webhook endpoint whose behaviour the test scripts: it
// answers each request with the next planned behaviour ("fail", "hang",
// "ok"), then "ok" forever; it keeps what it accepted.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	plan []string
	got  []delivered
	keys jwk.Set
}

type delivered struct {
	Type    string
	CaseID  string `json:"case_id"`
	Event   exchange.Event
	SigOK   bool
	Attempt int
}

func newReceiver(t *testing.T, plan ...string) *receiver {
	rc := &receiver{t: t, plan: plan}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		step := "ok"
		if len(rc.plan) > 0 {
			step, rc.plan = rc.plan[0], rc.plan[1:]
		}
		rc.mu.Unlock()
		switch step {
		case "fail":
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		case "hang":
			time.Sleep(time.Second) // past the hub's timeout
			return
		}
		var d delivered
		if err := json.Unmarshal(body, &d); err != nil {
			t.Errorf("receiver: body is not JSON: %v", err)
		}
		_, err := jws.Verify([]byte(r.Header.Get("X-Certhub-Signature")), jws.WithKeySet(rc.keys), jws.WithDetachedPayload(body))
		d.SigOK = err == nil && r.Header.Get("X-Certhub-Event") == d.Event.ID
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) setPlan(plan ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.plan = plan
}

// jwks fetches the hub's published keys and parses them with jwx the way
// docs/sm2.md tells a Go client to: jwx validates every x5c with Go's
// crypto/x509, which cannot read SM2 certificates, so the x5c of SM2
// entries is set aside first (the SM2 curve itself is registered by
// package signing, as a client must register it).
func (h *hub) jwks() jwk.Set {
	h.t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	h.call("GET", "/.well-known/jwks.json", "", nil, &doc)
	for _, k := range doc.Keys {
		if k["crv"] == "SM2" {
			delete(k, "x5c")
		}
	}
	raw, _ := json.Marshal(doc)
	set, err := jwk.Parse(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	return set
}

// waitFor runs the webhooks until cond holds.
func (h *hub) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		if _, err := h.Webhooks.Dispatch(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		if _, err := h.Webhooks.Deliver(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhooks: a receiver that fails, times out and recovers gets every
// event at least once, in order per certificate, each signature verifying
// with the published JWKS; the delivery log shows the failures; a receiver
// that never answers goes to dead letter and is redelivered by hand; a
// subscription that follows lookups hears of the certificate it relied on.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.Webhooks.Timeout = 300 * time.Millisecond
	h.Webhooks.OnAttempt = exchange.NewWebhookMetrics(h.API.Registry).Observe
	h.seed()
	consumer, key := h.newConsumer("监管平台")
	h.agreement(consumer, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	keys := h.jwks()

	flaky := newReceiver(t, "fail", "hang", "fail", "fail")
	flaky.keys = keys
	var sub exchange.Subscription
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": flaky.srv.URL + "/hook", "types": []string{licence}}, &sub); st != 201 {
		t.Fatalf("subscribe: %d", st)
	}
	// Three certificates and a life for each.
	var ids []string
	for _, holder := range []string{companyID, "91350100M000200Y4", "91350100M000300Y0"} {
		b := issueBody()
		if holder != companyID {
			holder += string(certificates.USCCCheck(holder))
		}
		b["holder"] = map[string]string{"kind": "organisation", "id": holder, "name": "某公司"}
		var c struct{ ID string }
		if st := h.call("POST", "/api/v1/certificates", h.Admin, b, &c); st != 201 {
			t.Fatalf("issue: %d", st)
		}
		ids = append(ids, c.ID)
	}
	var rev struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates/"+ids[0]+"/revisions", h.Admin, map[string]any{"data": map[string]any{"legal_representative": "李四", "established_on": "2020-05-01", "capital": 200}, "reason": "变更"}, &rev); st != 201 {
		t.Fatalf("revise: %d", st)
	}
	for _, step := range []string{"suspend", "reinstate", "revoke"} {
		if st := h.call("POST", "/api/v1/certificates/"+ids[1]+"/"+step, h.Admin, map[string]string{"reason": step}, nil); st != 200 {
			t.Fatalf("%s: %d", step, st)
		}
	}
	want := map[string][]string{} // lineage (first id) → kinds in order
	want[ids[0]] = []string{"issued", "revised"}
	want[ids[1]] = []string{"issued", "suspended", "reinstated", "revoked"}
	want[ids[2]] = []string{"issued"}
	total := 7
	lineageOf := func(id string) string {
		for _, l := range ids {
			if id == l || id == rev.ID {
				if id == rev.ID {
					return ids[0]
				}
				return l
			}
		}
		return id
	}
	h.waitFor("every event delivered", func() bool {
		seen := map[string]bool{}
		for _, d := range flaky.received() {
			seen[d.Event.ID] = true
		}
		return len(seen) == total
	})
	got := map[string][]string{}
	seen := map[string]bool{}
	for _, d := range flaky.received() {
		if !d.SigOK {
			t.Fatalf("signature does not verify with the JWKS: %+v", d)
		}
		if d.Type != "certificate."+d.Event.Kind {
			t.Fatalf("type %q for kind %q", d.Type, d.Event.Kind)
		}
		if seen[d.Event.ID] {
			continue // at least once: a repeat is allowed
		}
		seen[d.Event.ID] = true
		l := lineageOf(d.Event.CertificateID)
		got[l] = append(got[l], d.Event.Kind)
	}
	for l, kinds := range want {
		if !slices.Equal(got[l], kinds) {
			t.Errorf("certificate %s: received %v, want %v in this order", l, got[l], kinds)
		}
	}
	// The delivery log shows the failed attempts.
	var log struct{ Deliveries []exchange.Delivery }
	if st := h.call("GET", "/api/v1/subscriptions/"+sub.ID+"/deliveries", key, nil, &log); st != 200 || len(log.Deliveries) != total {
		t.Fatalf("delivery log: %d, %d deliveries", st, len(log.Deliveries))
	}
	failures := 0
	for _, d := range log.Deliveries {
		if d.Status != "delivered" {
			t.Fatalf("delivery %d is %s", d.ID, d.Status)
		}
		for _, a := range d.History {
			if a.Error != "" {
				failures++
			}
		}
	}
	if failures != 4 {
		t.Fatalf("%d failed attempts in the log, want 4 (fail, hang, fail, fail)", failures)
	}

	// A receiver that never succeeds: dead after MaxAttempts, then
	// redelivered by hand once it recovers.
	down := newReceiver(t, "fail", "fail", "fail", "fail", "fail", "fail", "fail")
	down.keys = keys
	var sub2 exchange.Subscription
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": down.srv.URL, "events": []string{"revoked"}}, &sub2); st != 201 {
		t.Fatalf("subscribe: %d", st)
	}
	if st := h.call("POST", "/api/v1/certificates/"+ids[2]+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	var dead struct{ Deliveries []exchange.Delivery }
	h.waitFor("the dead letter", func() bool {
		h.call("GET", "/api/v1/subscriptions/"+sub2.ID+"/deliveries?status=dead", key, nil, &dead)
		return len(dead.Deliveries) == 1
	})
	if d := dead.Deliveries[0]; d.Attempts != 5 || len(d.History) != 5 || d.LastStatus != 503 || d.Event.Kind != "revoked" {
		t.Fatalf("dead delivery: %+v", d)
	}
	// The attempts so far, as Prometheus sees them: the flaky receiver's
	// four failures and eight deliveries (the last revocation reached it
	// too), and the down receiver's four failures and dead last attempt.
	m := metricstest.Scrape(t, h.Srv.URL)
	for outcome, want := range map[string]float64{"delivered": 8, "failed": 8, "dead": 1} {
		if got := metricstest.Value(m, "certhub_webhook_attempts_total", "outcome", outcome); got != want {
			t.Errorf("certhub_webhook_attempts_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	down.setPlan()
	if st := h.call("POST", "/api/v1/deliveries/"+itoa(dead.Deliveries[0].ID)+"/redeliver", key, nil, nil); st != 202 {
		t.Fatalf("redeliver: %d", st)
	}
	h.waitFor("the redelivery", func() bool { return len(down.received()) == 1 })
	if d := down.received()[0]; d.Event.CertificateID != ids[2] || !d.SigOK {
		t.Fatalf("redelivered: %+v", d)
	}
	// Another consumer cannot read this log or redeliver.
	_, otherKey := h.newConsumer("别的系统")
	if st := h.call("GET", "/api/v1/subscriptions/"+sub2.ID+"/deliveries", otherKey, nil, nil); st != 404 {
		t.Fatalf("another consumer's log: %d", st)
	}
	if st := h.call("POST", "/api/v1/deliveries/"+itoa(dead.Deliveries[0].ID)+"/redeliver", otherKey, nil, nil); st != 404 {
		t.Fatalf("another consumer redelivered: %d", st)
	}

	// Following lookups: a subscription with no filter hears only of the
	// certificate looked up for a case, with that case id.
	fid, fkey := h.newConsumer("不动产登记系统")
	h.agreement(fid, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	follower := newReceiver(t)
	follower.keys = keys
	if st := h.call("POST", "/api/v1/subscriptions", fkey, map[string]any{"url": follower.srv.URL, "follow_days": 30}, nil); st != 201 {
		t.Fatalf("follow subscription: %d", st)
	}
	if st := h.call("GET", "/api/v1/certificates/"+rev.ID, fkey, nil, nil, "X-Purpose", "SX-001", "X-Case-Id", "2026-BDC-88"); st != 200 {
		t.Fatalf("lookup: %d", st)
	}
	h.Webhooks.Dispatch(context.Background()) // the earlier events are not followed
	for _, step := range []string{"suspend"} {
		h.call("POST", "/api/v1/certificates/"+rev.ID+"/"+step, h.Admin, map[string]string{"reason": "暂扣"}, nil)
	}
	h.waitFor("the followed event", func() bool { return len(follower.received()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if r := follower.received(); len(r) != 1 || r[0].Event.CertificateID != rev.ID || r[0].Event.Kind != "suspended" || r[0].CaseID != "2026-BDC-88" {
		t.Fatalf("follower received %+v", r)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSubscriptionBadInput: bad targets and filters are refused with the
// field named, and nothing is stored.
func TestSubscriptionBadInput(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	h.Webhooks.Guard.Allow = nil // as in production: no loopback
	consumer, key := h.newConsumer("监管平台")
	h.agreement(consumer, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	_, bare := h.newConsumer("无协议")
	cases := []struct {
		token string
		body  map[string]any
		field string
	}{
		{key, map[string]any{"url": "ftp://example.org/hook"}, "url"},
		{key, map[string]any{"url": "not a url"}, "url"},
		{key, map[string]any{"url": h.Srv.URL + "/api/v1/verify"}, "url"},
		{key, map[string]any{"url": "http://127.0.0.1:9/hook"}, "url"},
		{key, map[string]any{"url": "http://[::1]:9/hook"}, "url"},
		{key, map[string]any{"url": "http://169.254.169.254/latest/meta-data"}, "url"},
		{key, map[string]any{"url": "http://user:pw@10.1.2.3/hook"}, "url"},
		{key, map[string]any{"url": "https://10.1.2.3/hook", "types": []string{otherCode + "009"}}, "types[0]"},
		{key, map[string]any{"url": "https://10.1.2.3/hook", "events": []string{"deleted"}}, "events[0]"},
		{key, map[string]any{"url": "https://10.1.2.3/hook", "follow_days": 1000}, "follow_days"},
		{bare, map[string]any{"url": "https://10.1.2.3/hook"}, "consumer"},
	}
	for _, c := range cases {
		var e struct {
			Error struct{ Field, Message string }
		}
		if st := h.call("POST", "/api/v1/subscriptions", c.token, c.body, &e); st != 400 || e.Error.Field != c.field {
			t.Errorf("%v: %d %+v, want 400 naming %s", c.body, st, e.Error, c.field)
		}
	}
	var list struct{ Subscriptions []exchange.Subscription }
	if h.call("GET", "/api/v1/subscriptions", h.Admin, nil, &list); len(list.Subscriptions) != 0 {
		t.Fatalf("refused subscriptions were stored: %+v", list.Subscriptions)
	}
	// A private-network receiver (政务外网) is fine.
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": "https://10.1.2.3/hook"}, nil); st != 201 {
		t.Fatalf("private address: %d", st)
	}
}

// TestFollowHonoursEventFilter: a subscription that follows lookups and
// asks for revocations only is told of the revocation of the certificate it
// relied on, with the case id, and of nothing else: not the certificate's
// suspension (outside its events filter), and not the revocation of a
// certificate it never looked up (it names no types or authorities).
func TestFollowHonoursEventFilter(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	id, key := h.newConsumer("不动产登记系统")
	h.agreement(id, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	rc := newReceiver(t)
	rc.keys = h.jwks()
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": rc.srv.URL, "follow_days": 30, "events": []string{"revoked"}}, nil); st != 201 {
		t.Fatalf("subscribe: %d", st)
	}
	var followed, other struct{ ID string }
	if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &followed); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	b := issueBody()
	b["holder"] = map[string]string{"kind": "organisation", "id": org(9), "name": "某公司"}
	if st := h.call("POST", "/api/v1/certificates", h.Admin, b, &other); st != 201 {
		t.Fatalf("issue: %d", st)
	}
	if st := h.call("GET", "/api/v1/certificates/"+followed.ID, key, nil, nil, "X-Purpose", "SX-001", "X-Case-Id", "2026-BDC-9"); st != 200 {
		t.Fatalf("lookup: %d", st)
	}
	// The issuances are in the outbox after the follow began: a follower
	// that ignored its filter would hear of the followed one's issuance.
	for _, step := range []struct{ id, action string }{{followed.ID, "suspend"}, {followed.ID, "reinstate"}, {other.ID, "revoke"}, {followed.ID, "revoke"}} {
		if st := h.call("POST", "/api/v1/certificates/"+step.id+"/"+step.action, h.Admin, map[string]string{"reason": step.action}, nil); st != 200 {
			t.Fatalf("%s: %d", step.action, st)
		}
	}
	h.waitFor("the followed revocation", func() bool {
		for _, d := range rc.received() {
			if d.Event.CertificateID == followed.ID && d.Event.Kind == "revoked" {
				return true
			}
		}
		return false
	})
	// Everything before the revocation was dispatched first; one more
	// round shows nothing else is owed.
	h.waitFor("a quiet outbox", func() bool {
		n, err := h.Webhooks.Dispatch(context.Background())
		return err == nil && n == 0
	})
	got := rc.received()
	if len(got) != 1 || got[0].Event.CertificateID != followed.ID || got[0].Type != "certificate.revoked" || got[0].CaseID != "2026-BDC-9" || !got[0].SigOK {
		var seen []string
		for _, d := range got {
			seen = append(seen, d.Type+" "+d.Event.CertificateID)
		}
		t.Fatalf("received %v, want only certificate.revoked of %s with its case id", seen, followed.ID)
	}
}

// subscribedReceiver registers a department system with an agreement over
// the licence and a subscription to its events, delivered to a new
// receiver that checks signatures with the hub's JWKS.
func (h *hub) subscribedReceiver(t *testing.T) *receiver {
	h.t.Helper()
	consumer, key := h.newConsumer("监管平台")
	h.agreement(consumer, exchange.Grant{Type: licence, Fields: []string{"capital"}}, "SX-001")
	rc := newReceiver(t)
	rc.keys = h.jwks()
	if st := h.call("POST", "/api/v1/subscriptions", key, map[string]any{"url": rc.srv.URL + "/hook", "types": []string{licence}}, nil); st != 201 {
		h.t.Fatalf("subscribe: %d", st)
	}
	return rc
}

// TestWebhooksSkipBackfilled: a child's version that reached this hub by
// the child's backfill joins the outbox (to travel on to this hub's
// parent) but is not told to subscribers: nothing happened to it now. The
// child's issuance that came through its outbox is told.
func TestWebhooksSkipBackfilled(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	rc := h.subscribedReceiver(t)
	ctx := context.Background()
	change := func(serial, kind string, seq int64) federation.Change {
		id := certificates.Identifier{TypeCode: licence, Issuer: marketCode, Serial: serial, Version: 1}
		from, _ := certificates.ParseDate("2026-01-01")
		at := time.Now().UTC()
		return federation.Change{Seq: seq, Event: exchange.Event{ID: "evt_" + kind + serial, Kind: kind, CertificateID: id.String(), Lineage: id.Lineage(),
			Type: licence, Authority: marketCode, Version: 1, At: at, HomeHub: "330102"},
			Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(), Type: licence, Authority: marketCode, Version: 1,
				HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"), HolderName: "某公司", ValidFrom: from,
				State: certificates.StateValid, DocumentKey: "federated/330102/batches/x", DocumentLength: 5, DocumentSHA256: "ab", KID: "kid-c",
				IssuedAt: at, UpdatedAt: at}}
	}
	if _, n, err := h.Store.ApplyBackfill(ctx, "330102", 0, []federation.Change{change("900001", exchange.EventBackfilled, 0)}, nil, 0, 0, time.Now()); err != nil || n != 1 {
		t.Fatalf("backfill: %d %v", n, err)
	}
	if _, _, err := h.Store.ApplyPush(ctx, "330102", 0, []federation.Change{change("900002", exchange.EventIssued, 1)}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the child's issuance", func() bool { return len(rc.received()) > 0 })
	h.waitFor("the outbox dispatched", func() bool { n, _ := h.Webhooks.Dispatch(ctx); return n == 0 })
	if _, err := h.Webhooks.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.received()
	if len(got) != 1 || got[0].Event.ID != "evt_issued900002" || got[0].Type != "certificate.issued" || !got[0].SigOK {
		t.Fatalf("delivered %+v", got)
	}
}

// TestWebhooksCatchUp: when the outbox holds more events than one
// dispatch takes (a large backfill), the dispatcher fans out batch after
// batch at once instead of one batch an interval; with an interval of an
// hour, every event still reaches the receiver.
func TestWebhooksCatchUp(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	rc := h.subscribedReceiver(t)
	const n = 7
	for i := range n {
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), nil); st != 201 {
			t.Fatalf("issue %d: %d", i, st)
		}
	}
	h.Webhooks.DispatchBatch = 2 // n events are four batches
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Webhooks.Run(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(15 * time.Second)
	for len(rc.received()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered within one dispatch interval", len(rc.received()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksClaimAhead: with more due deliveries than one claim takes,
// the next claim is made while a batch is delivered. It must not take an
// event whose certificate's earlier event is still in flight, nor one
// already claimed: 130 certificates issued and revoked (260 events, three
// claims) reach the receiver each once, each certificate's in order,
// with two replicas delivering at once.
func TestWebhooksClaimAhead(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	h.seed()
	rc := h.subscribedReceiver(t)
	const n = 130
	for i := range n {
		var c struct{ ID string }
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &c); st != 201 {
			t.Fatalf("issue %d: %d", i, st)
		}
		if st := h.call("POST", "/api/v1/certificates/"+c.ID+"/revoke", h.Admin, map[string]string{"reason": "吊销"}, nil); st != 200 {
			t.Fatalf("revoke %d: %d", i, st)
		}
	}
	// A second replica delivers from the same store at the same time,
	// as two hub replicas do: its claims must not take what the other
	// holds, ahead or in flight.
	w := h.Webhooks
	other := &exchange.Webhooks{Store: w.Store, Registry: w.Registry, Key: w.Key, Certs: w.Certs, Log: w.Log, Now: w.Now,
		Owner: "replica-2", Guard: w.Guard, Backoff: w.Backoff, MaxBackoff: w.MaxBackoff, MaxAttempts: w.MaxAttempts, Timeout: w.Timeout}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if _, err := other.Dispatch(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
			if _, err := other.Deliver(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	h.waitFor("every event delivered", func() bool { return len(rc.received()) >= 2*n })
	cancel()
	<-done
	seen := map[string]bool{}
	kinds := map[string][]string{}
	for _, d := range rc.received() {
		if seen[d.Event.ID] {
			t.Errorf("event %s (%s of %s) delivered twice", d.Event.ID, d.Event.Kind, d.Event.CertificateID)
		}
		seen[d.Event.ID] = true
		kinds[d.Event.CertificateID] = append(kinds[d.Event.CertificateID], d.Event.Kind)
	}
	if len(kinds) != n {
		t.Fatalf("events of %d certificates, want %d", len(kinds), n)
	}
	for l, k := range kinds {
		if strings.Join(k, " ") != "issued revoked" {
			t.Fatalf("certificate %s: events %v, want issued then revoked", l, k)
		}
	}
}
