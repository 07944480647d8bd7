package connectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/errs"
)

// memory is a source kind whose records are held in memory, read in order
// with the index as cursor. It has no Batch.Commit, so the engine works on
// two batches at once (pull).
type memory struct {
	records []string
	// fetched, if set, hears of every read with the cursor it started at.
	fetched func(cursor int)
}

func (memory) Validate(json.RawMessage) []errs.FieldError { return nil }

func (m memory) Open(context.Context, json.RawMessage) (connectors.Source, error) { return m, nil }

func (m memory) Fetch(_ context.Context, cursor string, limit int) (*connectors.Batch, error) {
	from := 0
	if cursor != "" {
		var err error
		if from, err = strconv.Atoi(cursor); err != nil {
			return nil, err
		}
	}
	if m.fetched != nil {
		m.fetched(from)
	}
	to := min(from+limit, len(m.records))
	b := &connectors.Batch{Cursor: strconv.Itoa(to), More: to < len(m.records), Total: int64(len(m.records) - from)}
	for _, line := range m.records[from:to] {
		var f map[string]any
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			return nil, err
		}
		b.Records = append(b.Records, connectors.Record{Fields: f, Raw: []byte(line)})
	}
	return b, nil
}

// memoryEngine is the hub's engine with the memory kind added, and the
// market-permits connector (batches of 3) reading from it.
func memoryEngine(t *testing.T, e *connectors.Engine, src memory) *connectors.Engine {
	t.Helper()
	eng := *e
	eng.Kinds = connectors.Kinds{"memory": src}
	def := strings.Replace(definition(t.TempDir()), "kind: file", "kind: memory", 1)
	if _, _, err := eng.Apply(context.Background(), []byte(def)); err != nil {
		t.Fatal(err)
	}
	return &eng
}

// waitingStore holds a batch's FinishBatch until the next batch has been
// read from the source: a run that did not read ahead would stop there.
type waitingStore struct {
	connectors.Store
	once    sync.Once
	readOn  chan struct{} // closed when the source is read after the first batch
	overlap bool
}

func (w *waitingStore) FinishBatch(ctx context.Context, name, runID, cursor string, c connectors.Counts, lag float64) error {
	w.once.Do(func() {
		select {
		case <-w.readOn:
			w.overlap = true
		case <-time.After(20 * time.Second):
		}
	})
	return w.Store.FinishBatch(ctx, name, runID, cursor, c, lag)
}

// TestPipelinedPull: the next batch is read while one commits, and a key
// that comes again in the next batch (a record changed right after its
// first read) is still issued once and then revised, never issued twice.
func TestPipelinedPull(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	// Batches of 3: 1 2 3 | 4 1' 5 | 6 7 4' | 8 9 10 | 2'
	// (n' is record n with a new address.)
	order := []int{1, 2, 3, 4, -1, 5, 6, 7, -4, 8, 9, 10, -2}
	var lines []string
	for _, n := range order {
		if n < 0 {
			lines = append(lines, row(100-n, "1", fmt.Sprintf("解放路%d号", -n)))
			continue
		}
		lines = append(lines, row(100+n, "1", fmt.Sprintf("人民路%d号", n)))
	}
	w := &waitingStore{readOn: make(chan struct{})}
	var closeOnce sync.Once
	src := memory{records: lines, fetched: func(cursor int) {
		if cursor > 0 {
			closeOnce.Do(func() { close(w.readOn) })
		}
	}}
	eng := memoryEngine(t, e, src)
	w.Store = eng.Store
	eng.Store = w
	run, err := eng.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !w.overlap {
		t.Error("the second batch was not read while the first one committed")
	}
	if run.Seen != 13 || run.Issued != 10 || run.Revised != 3 || run.Quarantined != 0 || run.CursorTo != "13" {
		t.Fatalf("run: %+v, cursor %s", run.Counts, run.CursorTo)
	}
	for n := 1; n <= 10; n++ {
		cs := holderCerts(t, h, 100+n)
		if len(cs) != 1 {
			t.Fatalf("record %d: %d current certificates", n, len(cs))
		}
		wantVersion, wantAddr := 1, fmt.Sprintf("人民路%d号", n)
		if n == 1 || n == 2 || n == 4 {
			wantVersion, wantAddr = 2, fmt.Sprintf("解放路%d号", n)
		}
		if cs[0].Version != wantVersion || cs[0].Data["address"] != wantAddr {
			t.Errorf("record %d: version %d, address %v; want %d, %s", n, cs[0].Version, cs[0].Data["address"], wantVersion, wantAddr)
		}
	}
	_, state, err := eng.Get(ctx, "market-permits")
	if err != nil {
		t.Fatal(err)
	}
	if state.Cursor != "13" {
		t.Fatalf("saved cursor %q, want 13", state.Cursor)
	}
}

// TestPipelinedPullCrash: the second batch's commit fails while the third
// is already sealed and in the object store. The saved cursor stays after
// the first batch, nothing of the third is visible, and the next run
// issues every record exactly once.
func TestPipelinedPullCrash(t *testing.T) {
	t.Parallel()
	h, e := setup(t)
	ctx := context.Background()
	var lines []string
	for n := 1; n <= 12; n++ {
		lines = append(lines, row(200+n, "1", fmt.Sprintf("人民路%d号", n)))
	}
	eng := memoryEngine(t, e, memory{records: lines})
	crashing := *eng
	crashing.Store = &flaky{Store: eng.Store, failAt: 2}
	run, err := crashing.Run(ctx, "market-permits", nil)
	if err == nil || !strings.Contains(err.Error(), "crash before the cursor moved") {
		t.Fatalf("the crash was not reported: %v", err)
	}
	if run.CursorTo != "3" || run.Issued != 3 {
		t.Fatalf("failed run: cursor %s, %+v", run.CursorTo, run.Counts)
	}
	_, state, err := eng.Get(ctx, "market-permits")
	if err != nil {
		t.Fatal(err)
	}
	if state.Cursor != "3" {
		t.Fatalf("saved cursor %q after the crash, want 3", state.Cursor)
	}
	for n := 7; n <= 12; n++ {
		if cs := holderCerts(t, h, 200+n); len(cs) != 0 {
			t.Fatalf("record %d was committed after the run failed", n)
		}
	}
	run, err = eng.Run(ctx, "market-permits", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Batch 2 was committed but its cursor not saved: read again, unchanged.
	if run.Seen != 9 || run.Unchanged != 3 || run.Issued != 6 || run.CursorTo != "12" {
		t.Fatalf("restart: %+v, cursor %s", run.Counts, run.CursorTo)
	}
	for n := 1; n <= 12; n++ {
		if cs := holderCerts(t, h, 200+n); len(cs) != 1 || cs[0].Version != 1 {
			t.Fatalf("record %d: %d certificates", n, len(cs))
		}
	}
}
