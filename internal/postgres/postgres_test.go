package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/storetest"
	"github.com/certhub/certhub/internal/testenv"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) *sqlstore.Store {
		s, err := postgres.Open(context.Background(), testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

// TestLedgerReplicasAppendConcurrently: two stores on one database (two
// replicas) append at the same time. Each keeps the ledger's head in
// memory and pipelines its batches; when the other moved the head, its
// batch is refused and rebuilt. The chain must come out whole: every entry
// once, numbered densely, hashes linked, and the counters summing up.
func TestLedgerReplicasAppendConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	var stores []*sqlstore.Store
	for range 2 {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores = append(stores, s)
	}
	const perWorker, workers = 150, 8
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers)
	for i, s := range stores {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range perWorker {
					e := exchange.AuditEntry{Actor: fmt.Sprintf("consumer:r%d", i), Action: "lookup", Purpose: "SX-1",
						CaseID: fmt.Sprintf("%d-%d-%d", i, w, n), Day: "2026-11-21", Certificates: []string{"1.2.156.3005.2.x.y.000001.001.0"},
						At: time.Now().UTC(), Outcome: "ok"}
					if err := s.AppendAudit(ctx, []exchange.AuditEntry{e}); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	total := int64(2 * workers * perWorker)
	size, head, err := stores[0].AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != total {
		t.Fatalf("head at %d, want %d", size, total)
	}
	prev, want := "", int64(1)
	seen := map[string]bool{}
	err = stores[1].ScanAudit(ctx, 1, 0, func(r exchange.LedgerRecord) error {
		if r.Seq != want {
			return fmt.Errorf("seq %d where %d was due", r.Seq, want)
		}
		if h := exchange.ChainHash(prev, r.Body); h != r.Hash {
			return fmt.Errorf("entry %d does not chain", r.Seq)
		}
		var e exchange.AuditEntry
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return err
		}
		if seen[e.CaseID] {
			return fmt.Errorf("entry %s recorded twice", e.CaseID)
		}
		seen[e.CaseID] = true
		prev, want = r.Hash, want+1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if prev != head {
		t.Fatal("the head does not match the last entry")
	}
	rows, err := stores[0].UsageReport(ctx, "2026-11-21", "2026-11-21")
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, r := range rows {
		counted += r.Count
	}
	if counted != total {
		t.Fatalf("counters sum to %d, want %d", counted, total)
	}
}
