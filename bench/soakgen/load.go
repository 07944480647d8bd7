package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/certificates"
)

// op is one kind of request, sent open-loop at a fixed rate.
type op struct {
	name string
	rate float64
	do   func(ctx context.Context, base string, n int64) error
	// faults excuse some failures while they last (nil: none).
	faults *faults

	mu      sync.Mutex
	win     []int32 // latencies (µs) of the current window
	winErrs int
	all     []int32 // latencies (µs) of every answered request, for the totals
	sent    int64
	ok      int64
	errs    int64
	excused int64    // failures a fault in progress accounts for
	samples []string // the first few errors, for the report
}

// record adds one finished request, scheduled at at (a negative latency:
// one not sent, which only counts as an error). Latency runs from the
// request's scheduled time, not from when it was sent, so a hub that
// falls behind shows it (no coordinated omission).
func (o *op) record(at time.Time, lat time.Duration, err error) {
	us := int32(min(lat.Microseconds(), 1<<31-1))
	excused := lat >= 0 && o.faults.excused(o.name, at, at.Add(lat), err)
	o.mu.Lock()
	defer o.mu.Unlock()
	if lat >= 0 {
		o.win = append(o.win, us)
		o.all = append(o.all, us)
	}
	if excused {
		o.excused++
		return
	}
	if err != nil {
		o.errs++
		o.winErrs++
		if len(o.samples) < 5 {
			o.samples = append(o.samples, err.Error())
		}
		return
	}
	o.ok++
}

// window hands back the current window's latencies and errors and starts
// a new one.
func (o *op) window() ([]int32, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, e := o.win, o.winErrs
	o.win, o.winErrs = nil, 0
	return w, e
}

// run sends o.rate requests a second until ctx ends, spread round-robin
// over the replicas. Requests are launched from a 10 ms tick, each with
// its own scheduled time; when maxInFlight requests are already waiting
// the request is not sent and counts as an error (the hub fell behind).
func (o *op) run(ctx context.Context, replicas []string, maxInFlight int64, inflight *atomic.Int64, wg *sync.WaitGroup) {
	if o.rate <= 0 {
		return
	}
	interval := time.Duration(float64(time.Second) / o.rate)
	start := time.Now()
	next := start
	var n int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for !next.After(now) {
				at := next
				next = next.Add(interval)
				n++
				o.mu.Lock()
				o.sent++
				o.mu.Unlock()
				if inflight.Add(1) > maxInFlight {
					inflight.Add(-1)
					o.record(at, -1, fmt.Errorf("not sent: %d requests already in flight", maxInFlight))
					continue
				}
				base := replicas[int(n)%len(replicas)]
				wg.Add(1)
				go func(n int64) {
					defer wg.Done()
					defer inflight.Add(-1)
					err := o.do(context.WithoutCancel(ctx), base, n)
					o.record(at, time.Since(at), err)
				}(n)
			}
		}
	}
}

// pct is the p-th percentile (0-100) of latencies in µs, in milliseconds.
func pct(lat []int32, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return float64(s[i]) / 1000
}

// statusError is a non-2xx answer.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("%d %s", e.code, e.body) }

// load holds what the operations share: the client, the tokens, and what
// issuance made for the other operations to use.
type load struct {
	client   *http.Client
	issuer   string // bearer token of the market authority's issuing system
	consumer string // bearer token of the demo department system
	purpose  string
	admin    string
	prefix   string // permit number prefix of this run
	holders  int    // size of the holder pool issuance draws from
	today    time.Time
	share    string // path of the share link, /s/<token>
	replicas []string

	revoked revocations // the revocation probe's findings

	mu         sync.Mutex
	issued     map[string]string // permit number → certificate id, of 2xx issuances
	unanswered map[string]bool   // permit numbers of issuances that got no answer
	docs       []string          // documents to verify: demo ones, then a ring of issued ones
	nDemo      int
	seen       []string // holders that hold a certificate of the run (a ring)
	ring       int
}

const (
	foodType      = "11330100MB0000001R002"
	foodAuthority = "11330100MB0000001R"
	docRing       = 2000
)

// call sends a request and returns the body of a 2xx answer.
func (l *load) call(ctx context.Context, method, u, token string, hdr map[string]string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &statusError{resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 200)]))}
	}
	return b, nil
}

// holder is the n-th organisation of the run's pool: a valid USCC.
func (l *load) holder(n int64) string {
	first := fmt.Sprintf("91330106MB%07d", n%int64(l.holders))
	return first + string(certificates.USCCCheck(first))
}

// issue makes a food business permit whose number carries the run's
// prefix, and keeps its document to verify and its holder to look up.
func (l *load) issue(ctx context.Context, base string, n int64) error {
	_, doc, err := l.issueOne(ctx, base, n)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	holder := l.holder(n)
	if len(l.docs) < l.nDemo+docRing {
		l.docs = append(l.docs, doc)
		l.seen = append(l.seen, holder)
	} else {
		l.docs[l.nDemo+l.ring] = doc
		l.seen[l.ring] = holder
		l.ring = (l.ring + 1) % docRing
	}
	return nil
}

// issueOne makes the n-th food business permit of the run (its number
// carries the run's prefix, for reconciliation) and returns its id and
// document.
func (l *load) issueOne(ctx context.Context, base string, n int64) (id, doc string, err error) {
	permit := fmt.Sprintf("%s%08d", l.prefix, n)
	holder := l.holder(n)
	body, _ := json.Marshal(map[string]any{
		"type": foodType, "authority": foodAuthority,
		"holder": map[string]string{"kind": "organisation", "id": holder, "name": fmt.Sprintf("杭州浸泡测试第%d号餐饮有限公司", n)},
		"data": map[string]any{"permit_no": permit, "legal_representative": "王伟", "operator_type": "餐饮服务经营者（小型餐馆）",
			"business_items": "热食类食品制售", "address": fmt.Sprintf("浙江省杭州市上城区延安路%d号", n%999+1)},
		"valid_from": l.today.Format(time.DateOnly), "valid_until": l.today.AddDate(4, 0, 0).Format(time.DateOnly),
	})
	b, err := l.call(ctx, http.MethodPost, base+"/api/v1/certificates", l.issuer, nil, body)
	if err != nil {
		if _, answered := err.(*statusError); !answered {
			// No answer (a timeout): the certificate may or may not be
			// stored, and reconciliation may find it either way.
			l.mu.Lock()
			l.unanswered[permit] = true
			l.mu.Unlock()
		}
		return "", "", err
	}
	var out struct {
		ID       string
		Document string
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" || out.Document == "" {
		return "", "", fmt.Errorf("issuance answer without id or document: %.200s", b)
	}
	l.mu.Lock()
	l.issued[permit] = out.ID
	l.mu.Unlock()
	return out.ID, out.Document, nil
}

// lookup asks for a holder's food permits as the department system, for
// the demo purpose: a holder of the run when there is one.
func (l *load) lookup(ctx context.Context, base string, n int64) error {
	l.mu.Lock()
	holder := l.seen[rand.IntN(len(l.seen))]
	l.mu.Unlock()
	q := url.Values{"holder_id": {holder}, "type": {foodType}}
	b, err := l.call(ctx, http.MethodGet, base+"/api/v1/certificates?"+q.Encode(), l.consumer,
		map[string]string{"X-Purpose": l.purpose, "X-Case-Id": fmt.Sprintf("soak-%d", n)}, nil)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(`"certificates"`)) {
		return fmt.Errorf("lookup answer without certificates: %.200s", b)
	}
	return nil
}

// verify checks a document: a demo one (any verdict) or one issued in the
// run, which must be valid.
func (l *load) verify(ctx context.Context, base string, n int64) error {
	l.mu.Lock()
	i := rand.IntN(len(l.docs))
	doc, ours := l.docs[i], i >= l.nDemo
	l.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"document": doc})
	b, err := l.call(ctx, http.MethodPost, base+"/api/v1/verify", "", nil, body)
	if err != nil {
		return err
	}
	var v struct {
		Valid   *bool
		Reasons []string
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Valid == nil {
		return fmt.Errorf("verify answer without a verdict: %.200s", b)
	}
	if ours && !*v.Valid {
		return fmt.Errorf("a document issued in this run does not verify: %v", v.Reasons)
	}
	return nil
}

// shareView opens the share link as a relying party's program would.
func (l *load) shareView(ctx context.Context, base string, n int64) error {
	_, err := l.call(ctx, http.MethodGet, base+l.share, "", map[string]string{"Accept": "application/json"}, nil)
	return err
}
