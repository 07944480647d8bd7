package connectors

import (
	"context"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// Schedule runs due connectors until ctx ends, looking every tick. Every
// replica of the hub runs it; the lease in the database lets only one of
// them run a given connector at a time, and next_run_at (set when a run
// ends: the interval after a success, a growing backoff after failures)
// says when it is due again.
func (e *Engine) Schedule(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		e.RunDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue runs, one after another, the connectors that are due now.
func (e *Engine) RunDue(ctx context.Context) {
	names, err := e.Store.ListConnectors(ctx)
	if err != nil {
		e.Log.ErrorContext(ctx, "connector schedule", "err", err)
		return
	}
	for _, n := range names {
		if ctx.Err() != nil {
			return
		}
		d, c, err := e.Get(ctx, n)
		if err != nil || c.Paused || !d.Schedule.Scheduled() {
			continue
		}
		if c.NextRunAt != nil && c.NextRunAt.After(e.Now()) {
			continue
		}
		if _, err := e.Run(ctx, n, nil); err != nil && !errs.Is(err, errs.Conflict) {
			e.Log.WarnContext(ctx, "scheduled connector run failed", "connector", n, "err", err.Error())
		}
	}
}
