package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// BatchObserver is told of every group-committed batch once it is
// durable (or failed): its queue (QueueLedger, QueueShareViews,
// QueueResolutions), how many requests it carried and how long it took
// from being taken off the queue. A request waits for the batch in flight,
// if any, and then for its own: up to about two of these.
type BatchObserver func(queue string, requests int, took time.Duration)

// The group-commit queues, as a BatchObserver names them.
const (
	QueueLedger      = "ledger"
	QueueShareViews  = "share_views"
	QueueResolutions = "resolutions"
)

// ObserveBatches sets the store's batch observer (nil: none). It may be
// set while the store is in use.
func (s *Store) ObserveBatches(f BatchObserver) { s.observer.Store(&f) }

// observed is what a queue of s calls when a batch that began at since is
// done: it tells the observer set then, if any.
func (s *Store) observed(queue string) func(requests int, since time.Time) {
	return func(requests int, since time.Time) {
		if f := s.observer.Load(); f != nil && *f != nil {
			(*f)(queue, requests, time.Since(since))
		}
	}
}

// groupCommit runs many callers' writes in one transaction: callers queue
// their requests, one writer takes everything queued (up to max) and runs
// apply on it in one transaction, in queue order, and each caller gets its
// own result once the transaction is durable. On SQLite (one writer, an
// fsync per commit) this turns a commit per request into a commit per batch.
type groupCommit[Req, Res any] struct {
	db    DB
	max   int
	apply func(ctx context.Context, q Querier, reqs []groupReq[Req]) ([]groupRes[Res], error)
	// run, when set, replaces the writer loop: it takes requests from ch
	// and answers each on its done channel (see pipelinedLedger).
	run func(ch <-chan groupReq[Req], quit <-chan struct{})
	// direct runs apply on the pool, not in a transaction: for an apply
	// that writes a batch of more than one statement only as one pipeline
	// (Batcher), which the server runs as one implicit transaction. That
	// is one round trip instead of BEGIN, the batch and COMMIT.
	direct bool
	// observe is told of each batch (Store.observed).
	observe func(requests int, since time.Time)

	once sync.Once
	ch   chan groupReq[Req]
	quit <-chan struct{}
}

type groupReq[Req any] struct {
	ctx  context.Context
	req  Req
	done chan groupRes[any]
}

type groupRes[Res any] struct {
	val Res
	err error
}

// do queues one request and waits for its result.
func (g *groupCommit[Req, Res]) do(ctx context.Context, quit <-chan struct{}, req Req) (Res, error) {
	var zero Res
	res, err := g.doAll(ctx, quit, []Req{req})
	if err != nil {
		return zero, err
	}
	return res[0], nil
}

// doAll queues requests together, so they go in one batch when the writer
// is free, and waits for all their results; the first error is returned.
func (g *groupCommit[Req, Res]) doAll(ctx context.Context, quit <-chan struct{}, reqs []Req) ([]Res, error) {
	g.once.Do(func() {
		g.ch = make(chan groupReq[Req], 4096)
		g.quit = quit
		if g.run != nil {
			go g.run(g.ch, quit)
		} else {
			go g.loop()
		}
	})
	queued := make([]groupReq[Req], 0, len(reqs))
	for _, req := range reqs {
		r := groupReq[Req]{ctx: ctx, req: req, done: make(chan groupRes[any], 1)}
		select {
		case g.ch <- r:
			queued = append(queued, r)
		case <-g.quit:
			return nil, errs.E(errs.Unavailable, "store is closed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]Res, len(queued))
	var first error
	for i, r := range queued {
		select {
		case res := <-r.done:
			if res.err != nil && first == nil {
				first = res.err
			}
			out[i], _ = res.val.(Res)
		case <-g.quit:
			return nil, errs.E(errs.Unavailable, "store is closed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, first
}

func (g *groupCommit[Req, Res]) loop() {
	for {
		var first groupReq[Req]
		select {
		case first = <-g.ch:
		case <-g.quit:
			return
		}
		batch := fill(g.ch, first, g.max)
		start := time.Now()
		var results []groupRes[Res]
		var err error
		if g.direct {
			results, err = g.apply(context.Background(), g.db, batch)
		} else {
			err = g.db.InTx(context.Background(), func(q Querier) error {
				var err error
				results, err = g.apply(context.Background(), q, batch)
				return err
			})
		}
		g.observe(len(batch), start)
		for i, r := range batch {
			switch {
			case err != nil:
				r.done <- groupRes[any]{err: err}
			default:
				r.done <- groupRes[any]{val: results[i].val, err: results[i].err}
			}
		}
	}
}

// fill takes first and whatever else is queued, up to max.
func fill[Req any](ch <-chan groupReq[Req], first groupReq[Req], max int) []groupReq[Req] {
	batch := []groupReq[Req]{first}
	for len(batch) < max {
		select {
		case r := <-ch:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}
