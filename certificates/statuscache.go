package certificates

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// StatusCache keeps the registry records verification reads, so that
// verifying a certificate costs no database round trip (docs/operations.md,
// Fresh status in memory). It is kept fresh by change notifications: this
// process's own changes at once, other replicas' through the database's
// notifications (PostgreSQL LISTEN/NOTIFY, sent by the transaction that
// writes the change's outbox event), and, in case one is missed, by a
// catch-up that reads the outbox's state changes every CatchUpEvery: a
// missed notification leaves a stale answer at most that long. A change is
// known by its lineage (every version of the certificate is dropped: a
// revision supersedes the version before it).
//
// A record read from the database is kept only if no change was noted
// while it was being read, so a change that lands between the read and
// the keeping is never hidden by the older record.
type StatusCache struct {
	max int
	// Idle is how long a record stays kept without being read (0: until
	// the cache is full). Memory then follows the certificates verified
	// lately, not every one verified since the start.
	Idle time.Duration
	now  func() time.Time // the clock, for tests

	mu        sync.Mutex
	lru       *list.List               // of *cached, most recent first
	byID      map[string]*list.Element // id -> element
	byLineage map[string][]string      // lineage -> ids kept
	gen       uint64                   // moved by every change noted

	hits, misses atomic.Uint64
}

// Reads says how many verification reads were answered from the cache
// (hits) and from the store (misses).
func (sc *StatusCache) Reads() (hits, misses uint64) { return sc.hits.Load(), sc.misses.Load() }

type cached struct {
	c       *Certificate
	lineage string
	used    time.Time // when last kept or read
}

// CatchUpEvery is how often the outbox is read for changes a notification
// may have missed.
const CatchUpEvery = 250 * time.Millisecond

// NewStatusCache keeps at most max records (0: none, a cache that is never
// used).
func NewStatusCache(max int) *StatusCache {
	return &StatusCache{max: max, lru: list.New(), byID: map[string]*list.Element{}, byLineage: map[string][]string{}, now: time.Now}
}

// get returns the kept record of id, if any, and the generation to keep a
// freshly read one under.
func (sc *StatusCache) get(id string) (*Certificate, uint64) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.byID[id]; ok {
		sc.lru.MoveToFront(e)
		x := e.Value.(*cached)
		x.used = sc.now()
		return x.c, sc.gen
	}
	return nil, sc.gen
}

// keep stores a record read at generation gen, unless a change was noted
// since.
func (sc *StatusCache) keep(c *Certificate, gen uint64) {
	if sc.max <= 0 {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if gen != sc.gen {
		return
	}
	if _, ok := sc.byID[c.ID]; ok {
		return
	}
	lin := lineageOf(c.ID)
	now := sc.now()
	sc.byID[c.ID] = sc.lru.PushFront(&cached{c: c, lineage: lin, used: now})
	sc.byLineage[lin] = append(sc.byLineage[lin], c.ID)
	for sc.lru.Len() > sc.max {
		sc.drop(sc.lru.Back())
	}
	sc.expireLocked(now)
}

// Expire drops the records not read for Idle.
func (sc *StatusCache) Expire() {
	if sc == nil || sc.Idle <= 0 {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.expireLocked(sc.now())
}

// expireLocked drops, from the least recently read, the records not read
// since now-Idle; the list is in order of use, so it stops at the first
// one read since.
func (sc *StatusCache) expireLocked(now time.Time) {
	if sc.Idle <= 0 {
		return
	}
	cutoff := now.Add(-sc.Idle)
	for e := sc.lru.Back(); e != nil && e.Value.(*cached).used.Before(cutoff); e = sc.lru.Back() {
		sc.drop(e)
	}
}

func (sc *StatusCache) drop(e *list.Element) {
	x := sc.lru.Remove(e).(*cached)
	delete(sc.byID, x.c.ID)
	ids := sc.byLineage[x.lineage]
	for i, id := range ids {
		if id == x.c.ID {
			ids = append(ids[:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(sc.byLineage, x.lineage)
	} else {
		sc.byLineage[x.lineage] = ids
	}
}

// lineageOf is the lineage of a certificate id (records read from the
// store carry the id, not its parsed parts).
func lineageOf(id string) string {
	ident, err := ParseIdentifier(id)
	if err != nil {
		return id
	}
	return ident.Lineage()
}

// Changed drops every kept version of the lineages named.
func (sc *StatusCache) Changed(lineages ...string) {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	for _, lin := range lineages {
		for _, id := range append([]string(nil), sc.byLineage[lin]...) {
			if e, ok := sc.byID[id]; ok {
				sc.drop(e)
			}
		}
	}
}

// Reset drops everything: notifications may have been missed (the
// listening connection was lost).
func (sc *StatusCache) Reset() {
	if sc == nil {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.gen++
	sc.lru.Init()
	sc.byID = map[string]*list.Element{}
	sc.byLineage = map[string][]string{}
}

// Len is how many records are kept.
func (sc *StatusCache) Len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.lru.Len()
}

// StatusChange is one change of a certificate's state in the outbox.
type StatusChange struct {
	Seq     int64
	Lineage string
	At      time.Time
}

// ChangeFeed reads the outbox's state changes (revisions, suspensions,
// reinstatements, revocations).
type ChangeFeed interface {
	// StatusChangesAfter lists up to limit state changes after seq, in seq
	// order.
	StatusChangesAfter(ctx context.Context, seq int64, limit int) ([]StatusChange, error)
	// LastEventSeq is the outbox's newest seq (0 when empty).
	LastEventSeq(ctx context.Context) (int64, error)
}

// settle is how long a change may take from taking its seq to being
// committed: the catch-up reads again every change younger than this, so
// one that commits after a later one was read is not passed over.
const settle = 10 * time.Second

// CatchUp drops the records of every state change in the outbox after the
// one it started at, and those idle too long, every CatchUpEvery, until
// ctx ends. A read that fails
// drops everything (a change may have been missed) and tries again.
func (sc *StatusCache) CatchUp(ctx context.Context, feed ChangeFeed, log *slog.Logger) {
	low, err := feed.LastEventSeq(ctx)
	if err != nil {
		low = 0
	}
	t := time.NewTicker(CatchUpEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sc.Expire()
		changes, err := feed.StatusChangesAfter(ctx, low, 10000)
		if err != nil {
			sc.Reset()
			if !failing && log != nil && ctx.Err() == nil {
				log.Warn("status cache: the outbox cannot be read; nothing is kept until it can", "error", err.Error())
			}
			failing = true
			continue
		}
		failing = false
		if len(changes) == 0 {
			continue
		}
		lins := make([]string, len(changes))
		settled := time.Now().Add(-settle)
		advancing := true
		for i, ch := range changes {
			lins[i] = ch.Lineage
			// low moves past a change only once it is old enough that no
			// change with a smaller seq can still commit; younger ones are
			// read (and dropped, which is harmless) again next time.
			if advancing && ch.At.Before(settled) {
				low = ch.Seq
			} else {
				advancing = false
			}
		}
		sc.Changed(lins...)
	}
}

// record reads the registry record of id that verification judges: from
// the cache when kept there, else from the store (and keeps it). It is the
// record without the certificate's data and sealed holder id, whichever
// way it was read: a verification needs neither (a document carries its
// data), and a kept record is then a third smaller (about 0.9 KB).
func (s *Service) record(ctx context.Context, id string) (*Certificate, error) {
	if s.Cache == nil || s.Cache.max <= 0 {
		c, err := s.Store.GetCertificate(ctx, id)
		if err != nil {
			return nil, err
		}
		return slim(c), nil
	}
	c, gen := s.Cache.get(id)
	if c != nil {
		s.Cache.hits.Add(1)
		cp := *c // the caller's to change; the kept one is not
		return &cp, nil
	}
	s.Cache.misses.Add(1)
	c, err := s.Store.GetCertificate(ctx, id)
	if err != nil {
		return nil, err
	}
	c = slim(c)
	cp := *c
	s.Cache.keep(&cp, gen)
	return c, nil
}

// slim drops from a record what verification does not read.
func slim(c *Certificate) *Certificate {
	c.Data, c.HolderSealed = nil, nil
	return c
}
