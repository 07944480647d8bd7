package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
)

// TestObserveBatches: the batch observer is told of every group-committed
// batch of the ledger and of the resolution records, on SQLite (a writer
// loop and a transaction per batch) and PostgreSQL (the pipelined ledger,
// resolution records as one pipeline): the requests it reports add up to
// those made, each batch with the time it took, and nothing after the
// observer is removed.
func TestObserveBatches(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "certhub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		testObserveBatches(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testObserveBatches(t, openPostgres(t))
	})
}

func testObserveBatches(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	type seen struct{ batches, requests int }
	var mu sync.Mutex
	got := map[string]*seen{}
	s.ObserveBatches(func(queue string, requests int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if requests < 1 || took <= 0 {
			t.Errorf("%s: a batch of %d requests took %v", queue, requests, took)
		}
		if got[queue] == nil {
			got[queue] = &seen{}
		}
		got[queue].batches++
		got[queue].requests += requests
	})

	now := time.Now().UTC().Truncate(time.Microsecond)
	const callers, each = 8, 5
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := exchange.AuditEntry{At: now, Day: now.Format("2006-01-02"), Actor: "consumer:tok_1", Action: "lookup",
					Certificates: []string{fmt.Sprintf("cert-%d-%d", c, i)}, Holder: holder(c), Purpose: "bench", CaseID: "case-1", Outcome: "ok"}
				if err := s.AppendAudit(ctx, []exchange.AuditEntry{e, e}); err != nil {
					t.Error(err)
				}
				r := &exchange.Resolution{Item: "ITEM-1", CaseID: fmt.Sprintf("case-%d-%d", c, i), Department: "dept", Consumer: "tok_1",
					Day: now.Format("2006-01-02"), Required: 2, Avoided: 1, At: now}
				if err := s.RecordResolution(ctx, r); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	for queue, want := range map[string]int{sqlstore.QueueLedger: 2 * callers * each, sqlstore.QueueResolutions: callers * each} {
		g := got[queue]
		if g == nil || g.requests != want || g.batches < 1 || g.batches > want {
			t.Errorf("%s: observed %+v, want %d requests in 1 to %d batches", queue, g, want, want)
		}
	}
	before := *got[sqlstore.QueueLedger]
	mu.Unlock()

	s.ObserveBatches(nil)
	e := exchange.AuditEntry{At: now, Day: now.Format("2006-01-02"), Actor: "consumer:tok_1", Action: "lookup", Outcome: "ok"}
	if err := s.AppendAudit(ctx, []exchange.AuditEntry{e}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if *got[sqlstore.QueueLedger] != before {
		t.Errorf("observed a batch after the observer was removed: %+v, was %+v", *got[sqlstore.QueueLedger], before)
	}
}
