package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Backfill (docs/federation.md): the outbox holds only what happened since
// events were kept, so before pushing events a child pushes every version
// of its registry — its own certificates in seq order, then the copies its
// own children pushed to it, in id order — with its state now. The parent
// keeps a version it does not hold yet and gives one it holds the state a
// page carries, while it has applied nothing of this hub past the page's
// mark (AggregationStore.ApplyBackfill says why that is never older). It
// runs once, and again in a new round when the parent lost what it brought
// (resync.go).
//
// Converging: the backfill begins by marking the outbox's last seq, and
// scans only once the events up to the mark have settled (committed or
// rolled back, exchange.EventSettle), so every change they record is in
// what the scan reads. The last page tells the parent so
// (Push.BackfillThrough) and its cursor for this hub moves to the mark:
// those events are not pushed again. A change committed after the mark is
// an event after it, pushed after the backfill and applied over the state
// the backfill carried, so a revocation made while the backfill runs ends
// revoked at the parent whichever of the two the scan saw.

// Backfill is where the backfill of the push to the parent stands.
type Backfill struct {
	// Round is which backfill this is: 1 the first, one more each time it
	// starts over (RestartBackfill); Reason why it did.
	Round  int    `json:"round"`
	Reason string `json:"reason,omitempty"`
	// EventsMark is the outbox's last seq when the backfill began;
	// MarkedAt when.
	EventsMark int64     `json:"events_mark"`
	MarkedAt   time.Time `json:"marked_at"`
	// OwnAfter is the seq of the last own version pushed; CopiesAfter the
	// id of the last copy pushed.
	OwnAfter    int64  `json:"own_after"`
	CopiesAfter string `json:"copies_after,omitempty"`
	Done        bool   `json:"done"`
}

const (
	// backfillBatch is how many versions a page of the backfill carries by
	// default (Aggregator.Page).
	backfillBatch = 2000
	// backfillBytes bounds the documents of a push, a page of the backfill
	// or a batch of events (documents are 2–4 KB; a push's body is at most
	// MaxAggregateBytes).
	backfillBytes = 24 << 20
)

// backfill pushes the next page of the backfill and returns its size, or
// done once the backfill is over.
func (a *Aggregator) backfill(ctx context.Context, self *Self, cursor int64) (int, bool, error) {
	s := a.Service
	now := s.now()
	b, err := a.Store.StartBackfill(ctx, now)
	if err != nil {
		return 0, false, err
	}
	if b.Done {
		return 0, true, nil
	}
	if b.EventsMark > 0 && now.Before(b.MarkedAt.Add(exchange.EventSettle)) {
		return 0, false, nil // the events up to the mark settle first
	}
	page := a.Page
	if page <= 0 {
		page = backfillBatch
	}
	own, seqs, err := a.Store.OwnVersionsAfter(ctx, b.OwnAfter, page)
	if err != nil {
		return 0, false, err
	}
	vs, more := own, len(own) == page
	if !more {
		copies, err := a.Store.CopiesAfter(ctx, b.CopiesAfter, page-len(own))
		if err != nil {
			return 0, false, err
		}
		vs, more = append(vs, copies...), len(copies) == page-len(own)
	}
	refs := make([]docRef, len(vs))
	for i, v := range vs {
		refs[i] = v.documentRef()
	}
	docs, err := a.documents(ctx, refs)
	if err != nil {
		return 0, false, err
	}
	next := *b
	push := Push{Hub: self.ID, After: cursor, Events: []PushedEvent{}, BackfillMark: b.EventsMark}
	size := 0
	for i, v := range vs {
		if size += len(docs[i]); size > backfillBytes && i > 0 {
			more = true // the rest goes in the next page
			break
		}
		e := exchange.Event{ID: exchange.NewID("evt_"), Kind: exchange.EventBackfilled, CertificateID: v.ID, Type: v.Type,
			Authority: v.Authority, Version: v.Version, Reason: v.StateReason, At: v.UpdatedAt, HomeHub: v.HomeHub}
		push.Backfill = append(push.Backfill, PushedEvent{Event: e, Lineage: v.Lineage, Version: &PushedVersion{ValidFrom: v.ValidFrom,
			ValidUntil: v.ValidUntil, KID: v.KID, IssuedAt: v.IssuedAt, Document: string(docs[i]), State: v.State,
			StateReason: v.StateReason, SupersededBy: v.SupersededBy}})
		if i < len(own) {
			next.OwnAfter = seqs[i]
		} else {
			next.CopiesAfter = v.ID
		}
	}
	next.Done = !more
	if next.Done {
		push.BackfillThrough = b.EventsMark
	}
	if len(push.Backfill) > 0 || push.BackfillThrough > cursor {
		if push.Types, err = a.types(ctx, push.Backfill); err != nil {
			return 0, false, err
		}
		ans, applied, err := a.send(ctx, self, push)
		s.note(ctx, self.Parent, "push", err)
		if err != nil {
			return 0, false, err
		}
		a.refused(ctx, ans)
		if !applied {
			// Refused: the page goes again from the parent's cursor, or
			// the backfill starts over.
			return 0, false, a.resync(ctx, self, cursor, ans.AppliedThrough, true)
		}
		if err := a.Store.MoveAggregation(ctx, a.Owner, ans.AppliedThrough); err != nil {
			return 0, false, err
		}
	}
	if err := a.Store.MoveBackfill(ctx, a.Owner, &next); err != nil {
		return 0, false, err
	}
	if next.Done && s.Log != nil {
		s.Log.InfoContext(ctx, "federation backfill done", "parent", self.Parent, "events_through", b.EventsMark)
	}
	return len(push.Backfill), false, nil
}

// docRef is where a version's document is: a whole object, or a byte
// range of a batch object.
type docRef struct {
	id, key        string
	offset, length int64
	sha256         string
}

func (v *Version) documentRef() docRef {
	return docRef{id: v.ID, key: v.DocumentKey, offset: v.DocumentOffset, length: v.DocumentLength, sha256: v.DocumentSHA256}
}

// documentFetchers is how many object reads go at once.
const documentFetchers = 4

// documents reads the documents of a push, each checked against its
// recorded SHA-256. A batch object that holds two or more of them is read
// once, whole; any other document by its own range (or object).
func (a *Aggregator) documents(ctx context.Context, refs []docRef) ([][]byte, error) {
	uses := map[string]int{}
	for _, r := range refs {
		if r.length > 0 {
			uses[r.key]++
		}
	}
	type read struct {
		key            string
		offset, length int64
		whole          bool
	}
	var reads []read
	for _, r := range refs {
		switch n := uses[r.key]; {
		case r.length > 0 && n >= 2:
			reads = append(reads, read{key: r.key, whole: true})
			uses[r.key] = -1 // read once
		case r.length > 0 && n == 1, r.length == 0:
			reads = append(reads, read{key: r.key, offset: r.offset, length: r.length})
		}
	}
	got := make([][]byte, len(reads))
	errc := make([]error, len(reads))
	var wg sync.WaitGroup
	sem := make(chan struct{}, documentFetchers)
	for i, rd := range reads {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if rd.whole || rd.length == 0 {
				got[i], errc[i] = a.Documents.Get(ctx, rd.key)
			} else {
				got[i], errc[i] = a.Documents.GetRange(ctx, rd.key, rd.offset, rd.length)
			}
		}()
	}
	wg.Wait()
	objects := map[string][]byte{}
	ranges := map[[3]any][]byte{}
	for i, rd := range reads {
		if errc[i] != nil {
			if errs.Is(errc[i], errs.NotFound) {
				return nil, errs.Wrap(fmt.Errorf("document object %s is missing from object storage", rd.key), "read documents to push")
			}
			return nil, errc[i]
		}
		if rd.whole {
			objects[rd.key] = got[i]
		} else {
			ranges[[3]any{rd.key, rd.offset, rd.length}] = got[i]
		}
	}
	out := make([][]byte, len(refs))
	for i, r := range refs {
		doc, whole := objects[r.key]
		switch {
		case !whole:
			doc = ranges[[3]any{r.key, r.offset, r.length}]
		case r.offset < 0 || r.offset+r.length > int64(len(doc)):
			return nil, errs.Wrap(fmt.Errorf("document of %s: bytes %d+%d are past the end of %s", r.id, r.offset, r.length, r.key), "read documents to push")
		default:
			doc = doc[r.offset : r.offset+r.length]
		}
		sum := sha256.Sum256(doc)
		if hex.EncodeToString(sum[:]) != r.sha256 {
			return nil, errs.Wrap(fmt.Errorf("document %s of %s does not match its recorded SHA-256", r.key, r.id), "read documents to push")
		}
		out[i] = doc
	}
	return out, nil
}
