package certificates

import (
	"context"
	"sync"
	"testing"
	"time"
)

// countingStore reads certificates from a map and counts the reads.
type countingStore struct {
	Store
	mu    sync.Mutex
	certs map[string]*Certificate
	reads int
}

func (s *countingStore) GetCertificate(_ context.Context, id string) (*Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	c := *s.certs[id]
	return &c, nil
}

func testCert(serial string, version int) *Certificate {
	ident := Identifier{TypeCode: "11330100MB0000001R001", Issuer: "11330100MB0000001R", Serial: serial, Version: version}
	return &Certificate{ID: ident.String(), State: StateValid}
}

// TestStatusCache: a record is read once and then kept; a change of its
// lineage drops every version of it; a record read while a change was
// noted is not kept; the cache holds at most its size; Reset drops all.
func TestStatusCache(t *testing.T) {
	ctx := context.Background()
	v1, v2, other := testCert("000001", 1), testCert("000001", 2), testCert("000002", 1)
	st := &countingStore{certs: map[string]*Certificate{v1.ID: v1, v2.ID: v2, other.ID: other}}
	s := &Service{Store: st, Cache: NewStatusCache(2)}
	read := func(id string) State {
		t.Helper()
		c, err := s.record(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.State
	}
	read(v1.ID)
	read(v1.ID)
	if st.reads != 1 {
		t.Fatalf("%d store reads for one record read twice", st.reads)
	}
	read(v2.ID)
	st.certs[v1.ID].State = StateSuperseded
	s.Cache.Changed(lineageOf(v2.ID)) // a revision: both versions go
	if got := read(v1.ID); got != StateSuperseded || st.reads != 3 {
		t.Fatalf("after the lineage changed: %s, %d reads", got, st.reads)
	}
	// A change noted between the read and the keeping: not kept.
	_, gen := s.Cache.get(other.ID)
	c, _ := st.GetCertificate(ctx, other.ID)
	s.Cache.Changed("some.other.lineage")
	s.Cache.keep(c, gen)
	if got, _ := s.Cache.get(other.ID); got != nil {
		t.Fatal("a record read before a change was kept after it")
	}
	// At most 2.
	read(other.ID)
	read(v2.ID)
	if n := s.Cache.Len(); n != 2 {
		t.Fatalf("%d kept, max 2", n)
	}
	s.Cache.Reset()
	if n := s.Cache.Len(); n != 0 {
		t.Fatalf("%d kept after Reset", n)
	}
	// A caller changing what it got changes nothing kept.
	c1, _ := s.record(ctx, other.ID)
	c1.State = StateRevoked
	if got := read(other.ID); got != StateValid {
		t.Fatalf("the kept record was changed through a caller's copy: %s", got)
	}
}

// TestStatusCacheIdle: a record not read for Idle is dropped (and read
// again from the store when asked for); one read within Idle stays.
func TestStatusCacheIdle(t *testing.T) {
	ctx := context.Background()
	hot, cold := testCert("000001", 1), testCert("000002", 1)
	st := &countingStore{certs: map[string]*Certificate{hot.ID: hot, cold.ID: cold}}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	s := &Service{Store: st, Cache: NewStatusCache(100)}
	s.Cache.Idle, s.Cache.now = 5*time.Minute, func() time.Time { return now }
	for _, id := range []string{hot.ID, cold.ID} {
		if _, err := s.record(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(3 * time.Minute)
	if _, err := s.record(ctx, hot.ID); err != nil { // read within Idle: kept, and its clock starts again
		t.Fatal(err)
	}
	now = now.Add(3 * time.Minute) // cold unread for 6 min, hot for 3
	s.Cache.Expire()
	if n := s.Cache.Len(); n != 1 {
		t.Fatalf("%d kept after the idle time, want 1 (the one read lately)", n)
	}
	if got, _ := s.Cache.get(cold.ID); got != nil {
		t.Fatal("the record idle for 6 minutes is still kept")
	}
	reads := st.reads
	if _, err := s.record(ctx, hot.ID); err != nil || st.reads != reads {
		t.Fatalf("the record read lately was read from the store again (%d → %d reads): %v", reads, st.reads, err)
	}
	if _, err := s.record(ctx, cold.ID); err != nil || st.reads != reads+1 {
		t.Fatalf("the expired record was not read from the store again (%d → %d reads): %v", reads, st.reads, err)
	}
}

// feed is a ChangeFeed in memory.
type feed struct {
	mu      sync.Mutex
	changes []StatusChange
}

func (f *feed) StatusChangesAfter(_ context.Context, seq int64, limit int) ([]StatusChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []StatusChange
	for _, c := range f.changes {
		if c.Seq > seq && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *feed) LastEventSeq(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.changes) == 0 {
		return 0, nil
	}
	return f.changes[len(f.changes)-1].Seq, nil
}

// TestStatusCacheCatchUp: a change no notification told of is found in the
// outbox by the catch-up and its record dropped; so is one that commits
// after a later one was already read (a smaller seq, seen late).
func TestStatusCacheCatchUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := testCert("000001", 1), testCert("000002", 1)
	st := &countingStore{certs: map[string]*Certificate{a.ID: a, b.ID: b}}
	s := &Service{Store: st, Cache: NewStatusCache(10)}
	f := &feed{changes: []StatusChange{{Seq: 1, Lineage: "old", At: time.Now().Add(-time.Hour)}}}
	go s.Cache.CatchUp(ctx, f, nil)
	time.Sleep(2 * CatchUpEvery) // it starts after seq 1
	s.record(ctx, a.ID)
	s.record(ctx, b.ID)
	dropped := func(c *Certificate) bool {
		got, _ := s.Cache.get(c.ID)
		return got == nil
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	f.mu.Lock()
	f.changes = append(f.changes, StatusChange{Seq: 3, Lineage: lineageOf(a.ID), At: time.Now()})
	f.mu.Unlock()
	waitUntil("the change at seq 3 is not caught up", func() bool { return dropped(a) })
	if dropped(b) {
		t.Fatal("a record of another lineage was dropped")
	}
	// Seq 2 commits only now, after 3 was read: it is not passed over.
	f.mu.Lock()
	f.changes = []StatusChange{f.changes[0], {Seq: 2, Lineage: lineageOf(b.ID), At: time.Now()}, f.changes[1]}
	f.mu.Unlock()
	waitUntil("the change at seq 2, committed late, is passed over", func() bool { return dropped(b) })
}
