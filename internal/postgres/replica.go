package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/certhub/certhub/internal/sqlstore"
)

// replicaEvery is how often the replica's replay is compared with the
// primary's position.
const replicaEvery = 250 * time.Millisecond

// UseReplica watches the streaming replica (hot standby) at url and sends
// the store's reads that may be a moment behind (lookups, lists, reports:
// certificates.WithStaleReads) to it while it is fit: reachable, still in
// recovery (a promoted replica no longer follows the primary), and at most
// maxLag behind. Otherwise they go to the primary, at once; the replica is
// taken back when it is fit again. Everything else — writes, and every
// status that decides a verification — always reads the primary.
//
// How far behind: every replicaEvery the primary's WAL position is noted,
// then the replica's replay position read; the replica holds every change
// the primary had committed at the newest noted position it has replayed
// past, so its lag is the time since that note. An idle primary whose
// position the replica has reached is no lag at all.
func UseReplica(ctx context.Context, s *sqlstore.Store, url string, maxLag time.Duration, log *slog.Logger) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("read replica URL: %w", err)
	}
	poolDefaults(cfg, url)
	// Reads only: a replica refuses writes anyway, and a primary given
	// here by mistake must not take any.
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read replica: %w", err)
	}
	w := &replicaWatch{pool: pool, primary: Pool(s), maxLag: maxLag, log: log, quit: make(chan struct{}), done: make(chan struct{})}
	w.check(ctx) // known before the first request
	go w.run()
	s.UseReplica(w)
	return nil
}

type lsnSample struct {
	at  time.Time
	lsn int64
}

// replicaWatch implements sqlstore.Replica.
type replicaWatch struct {
	pool, primary *pgxpool.Pool
	maxLag        time.Duration
	log           *slog.Logger
	quit, done    chan struct{}

	mu      sync.Mutex
	state   sqlstore.ReplicaState
	samples []lsnSample // the primary's positions, oldest first
}

func (w *replicaWatch) run() {
	defer close(w.done)
	t := time.NewTicker(replicaEvery)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.check(context.Background())
		}
	}
}

// check compares the replica's replay with the primary's position.
func (w *replicaWatch) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	now := time.Now()
	next := sqlstore.ReplicaState{Checked: now}
	var p int64
	if err := w.primary.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&p); err != nil {
		next.Status, next.Detail = "lagging", "the primary's position cannot be read: "+err.Error()
		w.set(next)
		return
	}
	w.mu.Lock()
	w.samples = append(w.samples, lsnSample{now, p})
	// Keep what can tell a lag up to maxLag and a little more.
	if keep := int((w.maxLag+time.Second)/replicaEvery) + 2; len(w.samples) > keep {
		w.samples = append(w.samples[:0], w.samples[len(w.samples)-keep:]...)
	}
	samples := append([]lsnSample(nil), w.samples...)
	w.mu.Unlock()

	var inRecovery bool
	var replayed *int64
	err := w.pool.QueryRow(ctx, `SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint`).Scan(&inRecovery, &replayed)
	switch {
	case err != nil:
		next.Status, next.Detail = "unreachable", err.Error()
	case !inRecovery:
		next.Status, next.Detail = "promoted", "it is not a standby (promoted, or a primary): it no longer follows this hub's primary"
	default:
		var r int64
		if replayed != nil {
			r = *replayed
		}
		next.Lag = now.Sub(samples[0].at) // at least this far behind, if it holds none of them
		for i := len(samples) - 1; i >= 0; i-- {
			if samples[i].lsn <= r {
				next.Lag = now.Sub(samples[i].at)
				break
			}
		}
		if next.Lag <= w.maxLag {
			next.Status = "ok"
		} else {
			next.Status, next.Detail = "lagging", fmt.Sprintf("its replay is %s behind the primary (at most %s)", next.Lag.Round(time.Millisecond), w.maxLag)
		}
	}
	w.set(next)
}

func (w *replicaWatch) set(next sqlstore.ReplicaState) {
	w.mu.Lock()
	was := w.state.Status
	w.state = next
	w.mu.Unlock()
	if w.log == nil || was == next.Status {
		return
	}
	if next.Status == "ok" {
		w.log.Info("read replica fit again: lookups, lists and reports read from it", "was", was)
	} else {
		w.log.Warn("read replica not used: lookups, lists and reports read the primary", "status", next.Status, "detail", next.Detail)
	}
}

// Reader implements sqlstore.Replica: the replica while its last check
// found it fit and is recent.
func (w *replicaWatch) Reader() sqlstore.Querier {
	w.mu.Lock()
	st := w.state
	w.mu.Unlock()
	if st.Status != "ok" || time.Since(st.Checked) > 4*replicaEvery+w.maxLag {
		return nil
	}
	return q{w.pool}
}

// State implements sqlstore.Replica.
func (w *replicaWatch) State() sqlstore.ReplicaState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// Close implements sqlstore.Replica.
func (w *replicaWatch) Close() {
	close(w.quit)
	<-w.done
	w.pool.Close()
}
