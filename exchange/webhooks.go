package exchange

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// Webhooks runs subscriptions: it fans events out of the outbox into
// deliveries, delivers them signed with the hub key (a detached JWS over
// the body, verifiable with the hub's JWKS), at least once, in order per
// certificate, retrying with exponential backoff until MaxAttempts, after
// which a delivery is dead (kept, and redeliverable by hand).
type Webhooks struct {
	Store    EventStore
	Registry *Registry
	Key      *signing.HubKey
	Guard    *WebhookGuard
	Certs    *certificates.Service
	Log      *slog.Logger
	Now      func() time.Time
	// DispatchBatch is how many events Dispatch fans out at a time (1000).
	DispatchBatch int
	// Owner names this process in the dispatcher's lease.
	Owner string
	// MaxAttempts before a delivery is dead (default 12).
	MaxAttempts int
	// Backoff is the first retry's delay, doubled per attempt up to
	// MaxBackoff (defaults 5 s and 1 h), with ±20 % jitter.
	Backoff, MaxBackoff time.Duration
	// Timeout per delivery (default 10 s).
	Timeout time.Duration
	// Workers deliver in parallel (default 4).
	Workers int
	// Retention is how long finished deliveries, their attempts and the
	// events behind them are kept (default 30 days).
	Retention time.Duration
	// Lease is how long the dispatcher's lease lasts without renewal: a
	// replica that died is replaced after it (Run sets 3 intervals + 5 s;
	// default 30 s).
	Lease time.Duration
	// OnAttempt, if set, hears how every delivery attempt ended:
	// "delivered", "failed" (to be retried) or "dead" (metrics).
	OnAttempt func(outcome string)

	// once applies the defaults, the first time Run or a direct call
	// needs them: Run and Dispatch/Deliver may then run side by side.
	once    sync.Once
	client  *http.Client
	mu      sync.Mutex
	follows map[string]followCache
	// ahead is the claim Deliver made while its last batch was being
	// delivered, for its next call (under mu).
	ahead []*Delivery
}

type followCache struct {
	days int
	at   time.Time
}

func (w *Webhooks) defaults() { w.once.Do(func() { w.setDefaults(0) }) }

// setDefaults fills what the configuration left zero; every, if Run's
// interval, sizes the lease to it.
func (w *Webhooks) setDefaults(every time.Duration) {
	if w.Lease == 0 && every > 0 {
		w.Lease = 3*every + 5*time.Second
	}
	if w.DispatchBatch == 0 {
		w.DispatchBatch = 1000
	}
	if w.MaxAttempts == 0 {
		w.MaxAttempts = 12
	}
	if w.Backoff == 0 {
		w.Backoff = 5 * time.Second
	}
	if w.MaxBackoff == 0 {
		w.MaxBackoff = time.Hour
	}
	if w.Timeout == 0 {
		w.Timeout = 10 * time.Second
	}
	if w.Workers == 0 {
		w.Workers = 4
	}
	if w.Lease == 0 {
		w.Lease = 30 * time.Second
	}
	if w.Retention == 0 {
		w.Retention = 30 * 24 * time.Hour
	}
	w.client = &http.Client{Timeout: w.Timeout,
		Transport: &http.Transport{DialContext: w.Guard.Dialer().DialContext, MaxIdleConnsPerHost: 4, ResponseHeaderTimeout: w.Timeout},
		// A redirect would take the body somewhere the guard did not
		// approve: it counts as a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Subscribe creates a subscription for a consumer (its own, or any for an
// administrator).
func (w *Webhooks) Subscribe(ctx context.Context, by *Principal, req *SubscriptionRequest) (*Subscription, error) {
	if by.Role == RoleConsumer {
		if req.Consumer != "" && req.Consumer != by.Consumer {
			return nil, errs.E(errs.Forbidden, "a consumer subscribes for itself only")
		}
		req.Consumer = by.Consumer
	}
	if req.Consumer == "" {
		return nil, errs.Field("consumer", "is required")
	}
	if _, err := w.Registry.activeConsumer(ctx, req.Consumer); errs.Is(err, errs.NotFound) {
		return nil, errs.Field("consumer", "consumer %s does not exist", req.Consumer)
	} else if err != nil {
		return nil, err
	}
	if err := w.Registry.validateSubscription(ctx, w.Guard, req); err != nil {
		return nil, err
	}
	existing, err := w.Store.ListSubscriptions(ctx, req.Consumer)
	if err != nil {
		return nil, err
	}
	if len(existing) >= maxSubscriptions {
		return nil, errs.E(errs.Conflict, "consumer %s has %d subscriptions, the most allowed", req.Consumer, maxSubscriptions)
	}
	s := &Subscription{ID: NewID("sub_"), Consumer: req.Consumer, URL: req.URL, Types: nonNilStrings(req.Types), Authorities: nonNilStrings(req.Authorities),
		Events: nonNilStrings(req.Events), FollowDays: req.FollowDays, Status: "active", CreatedAt: w.Now().UTC().Truncate(time.Microsecond)}
	if err := w.Store.CreateSubscription(ctx, s); err != nil {
		return nil, err
	}
	w.mu.Lock()
	delete(w.follows, s.Consumer)
	w.mu.Unlock()
	if err := w.Registry.record(ctx, by, "subscription_create", "ok: "+s.ID+" → "+s.URL, ""); err != nil {
		return nil, err
	}
	return s, nil
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// Owned returns a subscription the principal may see.
func (w *Webhooks) Owned(ctx context.Context, by *Principal, id string) (*Subscription, error) {
	s, err := w.Store.Subscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if by.Role == RoleConsumer && s.Consumer != by.Consumer {
		return nil, errs.E(errs.NotFound, "no subscription %s", id)
	}
	return s, nil
}

// Unsubscribe ends a subscription; deliveries still owed are not sent.
func (w *Webhooks) Unsubscribe(ctx context.Context, by *Principal, id string) error {
	s, err := w.Owned(ctx, by, id)
	if err != nil {
		return err
	}
	if err := w.Store.DeleteSubscription(ctx, id, w.Now().UTC()); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.follows, s.Consumer)
	w.mu.Unlock()
	return w.Registry.record(ctx, by, "subscription_delete", "ok: "+id, "")
}

// Redeliver queues a delivery again (a dead one, or to replay one).
func (w *Webhooks) Redeliver(ctx context.Context, by *Principal, id int64) error {
	sub, err := w.Store.Redeliver(ctx, id, w.Now().UTC())
	if err != nil {
		return err
	}
	if _, err := w.Owned(ctx, by, sub); err != nil {
		return err
	}
	return w.Registry.record(ctx, by, "delivery_redeliver", "ok: delivery "+strconv.FormatInt(id, 10)+" of "+sub, "")
}

// Follow records the certificates a consumer just relied on for a case,
// if it subscribed to follow its lookups.
func (w *Webhooks) Follow(ctx context.Context, consumer, caseID string, cs []*certificates.Certificate) error {
	if w == nil || consumer == "" || caseID == "" || len(cs) == 0 {
		return nil
	}
	days, err := w.followDays(ctx, consumer)
	if err != nil || days == 0 {
		return err
	}
	lineages := make([]string, 0, len(cs))
	for _, c := range cs {
		lineages = append(lineages, c.Ident.Lineage())
	}
	return w.Store.Follow(ctx, consumer, caseID, lineages, w.Now().UTC().Add(time.Duration(days)*24*time.Hour))
}

// followDays is the longest follow of a consumer's subscriptions, cached
// for a few seconds (the lookup path asks on every call).
func (w *Webhooks) followDays(ctx context.Context, consumer string) (int, error) {
	now := w.Now()
	w.mu.Lock()
	c, ok := w.follows[consumer]
	w.mu.Unlock()
	if ok && now.Sub(c.at) < 5*time.Second {
		return c.days, nil
	}
	subs, err := w.Store.ListSubscriptions(ctx, consumer)
	if err != nil {
		return 0, err
	}
	days := 0
	for _, s := range subs {
		days = max(days, s.FollowDays)
	}
	w.mu.Lock()
	if w.follows == nil {
		w.follows = map[string]followCache{}
	}
	w.follows[consumer] = followCache{days: days, at: now}
	w.mu.Unlock()
	return days, nil
}

// Run dispatches and delivers until ctx ends, every interval.
func (w *Webhooks) Run(ctx context.Context, every time.Duration) {
	w.once.Do(func() { w.setDefaults(every) })
	t := time.NewTicker(every)
	defer t.Stop()
	lastSweep := time.Time{}
	for {
		// A full batch means more are waiting (a backfill of millions puts
		// millions of events in at once): fan out again at once rather than
		// a batch a tick, for up to one interval, then deliver what is due
		// and carry on without waiting for the tick.
		behind := false
		for start := time.Now(); ; {
			n, err := w.Dispatch(ctx)
			if err != nil && ctx.Err() == nil {
				w.Log.Error("webhook dispatch", "err", err)
			}
			if err != nil || n < w.DispatchBatch || ctx.Err() != nil {
				break
			}
			if time.Since(start) >= every {
				behind = true
				break
			}
		}
		if time.Since(lastSweep) > 10*time.Minute {
			n, swept, err := w.sweepExpired(ctx)
			if err != nil && ctx.Err() == nil {
				w.Log.Error("expiry sweep", "err", err)
			} else if n > 0 {
				w.Log.Info("expired certificates announced", "count", n)
			}
			if swept || err != nil {
				// Not swept for want of the lease: again at the next tick.
				// A replica restarted in place of one that held it sweeps
				// once that lease runs out, not ten minutes later.
				lastSweep = time.Now()
			}
		}
		for {
			n, err := w.Deliver(ctx)
			if err != nil && ctx.Err() == nil {
				w.Log.Error("webhook delivery", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		if behind && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// expiryWindow is how far back the sweep looks for certificates whose
// validity ended: far more than the sweep's interval, far less than the
// retention (an announcement pruned must not be made again), and a hub
// started on an old store does not flood subscribers with old expiries.
const expiryWindow = 7

// SweepExpired announces certificates whose validity ended, and prunes
// what the retention lets go, under the dispatcher's lease (so replicas do
// not announce one twice).
func (w *Webhooks) SweepExpired(ctx context.Context) (int, error) {
	n, _, err := w.sweepExpired(ctx)
	return n, err
}

// sweepExpired is SweepExpired, and says whether it had the lease.
func (w *Webhooks) sweepExpired(ctx context.Context) (int, bool, error) {
	now := w.Now().UTC()
	w.defaults()
	if _, ok, err := w.Store.LeaseDispatch(ctx, w.Owner, now, now.Add(w.Lease)); err != nil || !ok {
		return 0, false, err
	}
	today := w.Certs.Today()
	n, err := w.Store.EmitExpired(ctx, today.AddDays(-expiryWindow), today, now.Truncate(time.Microsecond), func() string { return NewID("evt_") })
	if err != nil {
		return n, true, err
	}
	return n, true, w.Store.Prune(ctx, now.Add(-w.Retention))
}

// Dispatch fans the outbox's new events out into deliveries, a batch at a
// time, and returns how many events it handled.
func (w *Webhooks) Dispatch(ctx context.Context) (int, error) {
	w.defaults()
	now := w.Now().UTC()
	cursor, ok, err := w.Store.LeaseDispatch(ctx, w.Owner, now, now.Add(w.Lease))
	if err != nil || !ok {
		return 0, err
	}
	events, err := w.Store.EventsAfter(ctx, cursor, w.DispatchBatch, now.Add(-EventSettle))
	if err != nil || len(events) == 0 {
		return 0, err
	}
	subs, err := w.Store.ListSubscriptions(ctx, "")
	if err != nil {
		return 0, err
	}
	lineages := make([]string, 0, len(events))
	for _, e := range events {
		lineages = append(lineages, e.Lineage)
	}
	followers, err := w.Store.Followers(ctx, lineages, now)
	if err != nil {
		return 0, err
	}
	covers := map[string]map[string]bool{} // consumer → types its agreements cover
	var ds []*Delivery
	for _, e := range events {
		if e.Kind == EventBackfilled {
			continue // an old version arriving from a child: nothing happened to it now
		}
		for _, s := range subs {
			caseID, follows := followers[e.Lineage][s.Consumer]
			follows = follows && s.FollowDays > 0
			if !s.Wants(e, follows) {
				continue
			}
			if _, ok := covers[s.Consumer]; !ok {
				if covers[s.Consumer], err = w.coveredTypes(ctx, s.Consumer); err != nil {
					return 0, err
				}
			}
			if !covers[s.Consumer][e.Type] {
				continue // no agreement covers it any more: not told
			}
			if !follows {
				caseID = ""
			}
			ds = append(ds, &Delivery{Subscription: s.ID, EventSeq: e.Seq, Lineage: e.Lineage, CaseID: caseID,
				Status: DeliveryPending, NextAt: now, CreatedAt: now})
		}
	}
	if err := w.Store.Fanout(ctx, w.Owner, ds, events[len(events)-1].Seq); err != nil {
		return 0, err
	}
	return len(events), nil
}

func (w *Webhooks) coveredTypes(ctx context.Context, consumer string) (map[string]bool, error) {
	c, err := w.Registry.Store.Consumer(ctx, consumer)
	if err != nil || c.Status != ConsumerActive {
		return map[string]bool{}, err
	}
	return w.Registry.typesCovered(ctx, consumer, AgreementActive)
}

// Deliver attempts the due deliveries once each and returns how many it
// tried.
func (w *Webhooks) Deliver(ctx context.Context) (int, error) {
	w.defaults()
	const claimSize = 100
	claim := func() ([]*Delivery, error) {
		now := w.Now().UTC()
		// A claimed delivery whose process died is free again after this.
		return w.Store.ClaimDeliveries(ctx, now, now.Add(2*w.Timeout+5*time.Second), claimSize)
	}
	w.mu.Lock()
	ds := w.ahead
	w.ahead = nil
	w.mu.Unlock()
	if ds == nil {
		var err error
		if ds, err = claim(); err != nil || len(ds) == 0 {
			return 0, err
		}
	}
	// Each worker records what it did in one transaction every
	// recordEvery attempts, after the first attempt that ends more than a
	// second after the oldest unrecorded one (so at most a second plus one
	// attempt's timeout later: within the claim's lease, and no other
	// replica takes a delivery that was made), and at the end: a commit
	// per delivery held a backlog of 200,000 to about 1,000 a second. A crash before the
	// record leaves those deliveries claimed until their lease ends; they
	// are then delivered again (at least once, as ever).
	const recordEvery = 25
	work := make(chan *Delivery)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		firstErr = cmpErr(firstErr, err)
		mu.Unlock()
	}
	for range min(w.Workers, len(ds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var done []Finished
			var oldest time.Time
			record := func() {
				if len(done) > 0 && ctx.Err() == nil {
					if err := w.Store.FinishAttempts(ctx, done); err != nil {
						fail(err)
					}
				}
				done = done[:0]
			}
			for d := range work {
				f, err := w.attempt(ctx, d)
				if err != nil {
					fail(err)
				}
				if f != nil {
					if len(done) == 0 {
						oldest = time.Now()
					}
					done = append(done, *f)
				}
				if len(done) >= recordEvery || (len(done) > 0 && time.Since(oldest) > time.Second) {
					record()
				}
			}
			record()
		}()
	}
	for _, d := range ds {
		work <- d
	}
	close(work)
	// A full claim means more are due: claim the next while the workers
	// finish this one, so they do not wait for the query. The claim
	// leaves out the deliveries in flight (leased, and an event after one
	// of them waits for it), and a claim never used runs out with its
	// lease like any other.
	var next chan []*Delivery
	if len(ds) == claimSize && ctx.Err() == nil {
		next = make(chan []*Delivery, 1)
		go func() {
			more, err := claim()
			if err != nil {
				fail(err)
			}
			next <- more
		}()
	}
	wg.Wait()
	if next != nil {
		if more := <-next; len(more) > 0 {
			w.mu.Lock()
			w.ahead = more
			w.mu.Unlock()
		}
	}
	return len(ds), firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// attempt posts one delivery and says what happened, for the caller to
// record; nil when shutting down (the lease runs out and it is retried).
func (w *Webhooks) attempt(ctx context.Context, d *Delivery) (*Finished, error) {
	start := w.Now()
	body, err := payload(d, start)
	if err != nil {
		return nil, err
	}
	sig, err := w.Key.SignDetached(body)
	if err != nil {
		return nil, err
	}
	a := Attempt{At: start.UTC().Truncate(time.Microsecond)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "certhub-webhooks/1")
		req.Header.Set("X-Certhub-Signature", sig)
		req.Header.Set("X-Certhub-Event", d.Event.ID)
		req.Header.Set("X-Certhub-Delivery", strconv.FormatInt(d.ID, 10))
		var resp *http.Response
		resp, err = w.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			a.StatusCode = resp.StatusCode
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				err = fmt.Errorf("receiver answered %s", resp.Status)
			}
		}
	}
	if ctx.Err() != nil {
		return nil, nil // shutting down: the lease runs out and it is retried
	}
	a.DurationMS = int(w.Now().Sub(start) / time.Millisecond)
	d.Attempts++
	d.LastStatus = a.StatusCode
	outcome := "failed"
	switch {
	case err == nil:
		d.Status, d.LastError = DeliveryDelivered, ""
		at := w.Now().UTC().Truncate(time.Microsecond)
		d.DeliveredAt = &at
		outcome = "delivered"
	case d.Attempts >= w.MaxAttempts:
		a.Error, d.LastError, d.Status = err.Error(), err.Error(), DeliveryDead
		w.Log.Warn("webhook delivery dead", "delivery", d.ID, "subscription", d.Subscription, "attempts", d.Attempts, "err", err)
		outcome = "dead"
	default:
		a.Error, d.LastError = err.Error(), err.Error()
		d.NextAt = w.Now().UTC().Add(w.backoff(d.Attempts))
	}
	if w.OnAttempt != nil {
		w.OnAttempt(outcome)
	}
	return &Finished{Delivery: d, Attempt: a}, nil
}

// backoff is the delay before retry n+1: Backoff·2ⁿ⁻¹, at most MaxBackoff,
// with ±20 % jitter so that receivers coming back are not hit all at once.
func (w *Webhooks) backoff(n int) time.Duration {
	d := w.Backoff << min(n-1, 30)
	if d <= 0 || d > w.MaxBackoff {
		d = w.MaxBackoff
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
