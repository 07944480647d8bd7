package federation

import (
	"context"
	"fmt"

	"github.com/certhub/certhub/internal/errs"
)

// A second backfill (docs/federation.md). A parent restored from an old
// backup answers a push with 409 and the point its backup left it at,
// behind what this hub pushed. Events after that point replay what it
// lost, if this hub still holds every one of them; it does not once they
// are pruned (the parent had them), and then only a backfill catches the
// parent up: it starts over, with a new mark, from the start of the
// registry, and the parent takes the state each page carries for a
// version it holds (AggregationStore.ApplyBackfill). An operator can also
// start it over (certhub federation backfill --restart).

// startOver says why the backfill must start over when the parent answers
// that it applied this hub's outbox through applied while this hub's
// cursor says cursor; "" when events can catch the parent up (or it is
// ahead, this hub's record behind: it goes on from there). pruned is how
// far this hub pruned its outbox; b where its backfill stands (nil before
// one began); backfilling that the refused push was a page of it.
func startOver(cursor, applied, pruned int64, b *Backfill, backfilling bool) string {
	switch {
	case applied >= cursor:
		return ""
	case backfilling:
		// A parent's cursor does not move while the pages go, so this one
		// went back: it lost what it applied, pages too.
		return fmt.Sprintf("the parent applied this hub's outbox through %d, not %d: it lost pages of the backfill", applied, cursor)
	case b != nil && b.Done && applied < b.EventsMark:
		// The last page moved the parent's cursor to the mark: a parent
		// behind it lost the end of the backfill, and what the backfill
		// brought has no events to replay it.
		return fmt.Sprintf("the parent applied this hub's outbox through %d, before the mark of its backfill (%d)", applied, b.EventsMark)
	case pruned > applied:
		return fmt.Sprintf("the parent applied this hub's outbox through %d, not %d, and the events through %d are pruned here", applied, cursor, pruned)
	}
	return ""
}

// resync handles a push the parent refused with 409, saying it applied
// this hub's outbox through applied: the push goes on from there, after
// starting the backfill over when events cannot catch the parent up. The
// backfill starts over before the cursor moves: a crash between leaves a
// backfill that a later push finds refused again and starts once more,
// never a cursor that skips pruned events.
func (a *Aggregator) resync(ctx context.Context, self *Self, cursor, applied int64, backfilling bool) error {
	s := a.Service
	pruned, err := a.Store.PrunedThrough(ctx)
	if err != nil {
		return err
	}
	b, err := a.Store.Backfill(ctx)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	if why := startOver(cursor, applied, pruned, b, backfilling); why != "" {
		nb, err := a.Store.RestartBackfill(ctx, s.now().UTC(), why)
		if err != nil {
			return err
		}
		a.backfilling.Store(true)
		if s.Log != nil {
			s.Log.WarnContext(ctx, "federation backfill starts over", "parent", self.Parent, "round", nb.Round, "reason", why,
				"events_mark", nb.EventsMark)
		}
		_ = s.record(ctx, "federation_backfill", "hub:"+self.Parent, "", fmt.Sprintf("restarted: round %d: %s", nb.Round, why))
	} else if s.Log != nil {
		s.Log.InfoContext(ctx, "federation push resumes where the parent is", "parent", self.Parent, "applied_through", applied, "cursor", cursor)
	}
	return a.Store.MoveAggregation(ctx, a.Owner, applied)
}

// RestartBackfill starts the backfill of the push to the parent over, in
// a new round marked now: the next push, by whichever replica holds the
// push lease, scans the registry from the start (a page of the round it
// ends, on its way meanwhile, cannot move the new round's place). For a parent
// restored from a backup that is not yet caught up by itself, or to send
// every version's state again. by names who asked, for the ledger.
func (s *Service) RestartBackfill(ctx context.Context, by string) (*Backfill, error) {
	self, err := s.Self(ctx)
	if err != nil {
		return nil, err
	}
	if self.IsRoot() {
		return nil, errs.E(errs.Invalid, "hub %s is the root: it pushes to no parent, and has no backfill", self.ID)
	}
	if s.Inbox == nil {
		return nil, errs.E(errs.Unavailable, "this hub keeps no aggregation state")
	}
	b, err := s.Inbox.RestartBackfill(ctx, s.now().UTC(), "asked by "+by)
	if err != nil {
		return nil, err
	}
	if s.Log != nil {
		s.Log.InfoContext(ctx, "federation backfill starts over", "parent", self.Parent, "round", b.Round, "reason", b.Reason,
			"events_mark", b.EventsMark)
	}
	return b, s.record(ctx, "federation_backfill", by, "", fmt.Sprintf("restarted: round %d: asked by the operator", b.Round))
}
