package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// fault is a dependency failure injected partway through the load: the
// object store answering 503, the read replica falling behind, the
// status notifications' connections dropped. While one lasts (and for a
// grace period after, for retries and reconnections), the answers it
// excuses count apart from errors; every other failure is an error as
// ever, and so is any excused kind of answer after the grace period: the
// hub must recover by itself.
type fault struct {
	name   string
	at     time.Duration // after the load starts
	hold   time.Duration // how long it lasts
	grace  time.Duration
	start  func(ctx context.Context) (string, error) // begins it; says what it did
	end    func(ctx context.Context) error
	excuse func(err error) bool // which failed answers it accounts for (nil: none)

	mu           sync.Mutex
	began, ended time.Time
	did          string
	startErr     error
	excused      map[string]int // per op
}

// faults are the run's faults, consulted by every op as it records.
type faults struct{ list []*fault }

// excused says whether err, of a request of op scheduled at at and
// finished at done, is accounted for by a fault then in progress.
func (fs *faults) excused(opName string, at, done time.Time, err error) bool {
	if fs == nil || err == nil {
		return false
	}
	for _, f := range fs.list {
		f.mu.Lock()
		in := !f.began.IsZero() && f.excuse != nil && !done.Before(f.began) &&
			(f.ended.IsZero() || !at.After(f.ended.Add(f.grace)))
		if in && f.excuse(err) {
			f.excused[opName]++
			f.mu.Unlock()
			return true
		}
		f.mu.Unlock()
	}
	return false
}

// run starts and ends each fault at its time, until ctx ends (a fault in
// progress is then ended at once).
func (fs *faults) run(ctx context.Context, start time.Time) {
	var wg sync.WaitGroup
	for _, f := range fs.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(f.at))):
			}
			did, err := f.start(context.WithoutCancel(ctx))
			f.mu.Lock()
			f.began, f.did, f.startErr = time.Now(), did, err
			f.mu.Unlock()
			if err != nil {
				log.Printf("soak: fault %s did not start: %v", f.name, err)
				return
			}
			log.Printf("soak: fault %s: %s", f.name, did)
			select {
			case <-ctx.Done():
			case <-time.After(f.hold):
			}
			if err := f.end(context.WithoutCancel(ctx)); err != nil {
				log.Printf("soak: fault %s did not end: %v", f.name, err)
			}
			f.mu.Lock()
			f.ended = time.Now()
			f.mu.Unlock()
			log.Printf("soak: fault %s over", f.name)
		}()
	}
	wg.Wait()
}

// faultSummary is what a fault did and what it excused, for summary.json.
type faultSummary struct {
	Name    string         `json:"name"`
	At      float64        `json:"at_s"`
	Hold    float64        `json:"hold_s"`
	Did     string         `json:"did"`
	Excused map[string]int `json:"excused,omitempty"`
}

// check is the verdict on a fault: it happened as planned (its failure
// to start is a failed check: the run did not test what it says).
func (f *fault) check(start time.Time) (check, faultSummary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := faultSummary{Name: f.name, At: f.began.Sub(start).Seconds(), Hold: f.ended.Sub(f.began).Seconds(), Did: f.did, Excused: f.excused}
	switch {
	case f.startErr != nil:
		return check{"fault " + f.name, false, "did not start: " + f.startErr.Error()}, s
	case f.began.IsZero() || f.ended.IsZero():
		return check{"fault " + f.name, false, "the load ended before it did"}, s
	}
	what := "no answer needed excusing"
	if len(f.excused) > 0 {
		what = fmt.Sprintf("answers excused while it lasted (and %s after): %v", f.grace, f.excused)
	}
	return check{"fault " + f.name, true, fmt.Sprintf("%s at %.0f s for %.0f s; %s", f.did, s.At, s.Hold, what)}, s
}

// unavailable is a 503: what the hub must answer while a dependency is
// down (never a 500, never a wrong answer).
func unavailable(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusServiceUnavailable
}

// objectStoreFault makes the fault proxy in front of the object store
// (bench/s3fault) answer 503 to everything for hold.
func objectStoreFault(client *http.Client, control string, at, hold time.Duration) *fault {
	return &fault{name: "object store 503", at: at, hold: hold, grace: 10 * time.Second, excuse: unavailable,
		excused: map[string]int{},
		start: func(ctx context.Context) (string, error) {
			u := control + "?" + url.Values{"for": {hold.String()}}.Encode()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
			if err != nil {
				return "", err
			}
			resp, err := client.Do(req)
			if err != nil {
				return "", err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return "", fmt.Errorf("%s: %s", control, resp.Status)
			}
			return "the object store answered 503 to every request", nil
		},
		end: func(context.Context) error { return nil }, // the proxy ends it by itself
	}
}

// replayPause pauses WAL replay on the read replica for hold: it falls
// behind the primary, so the hub must stop reading from it (and never
// answer a status from it) until it catches up.
func replayPause(standbyDSN string, at, hold time.Duration) *fault {
	exec := func(ctx context.Context, sql string) error {
		c, err := pgx.Connect(ctx, standbyDSN)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	return &fault{name: "read replica behind", at: at, hold: hold, grace: 5 * time.Second, excused: map[string]int{},
		start: func(ctx context.Context) (string, error) {
			return "WAL replay paused on the read replica", exec(ctx, "SELECT pg_wal_replay_pause()")
		},
		end: func(ctx context.Context) error { return exec(ctx, "SELECT pg_wal_replay_resume()") },
	}
}

// dropListeners ends the replicas' LISTEN connections on the primary:
// status changes must still reach every replica within 1 s (the catch-up
// reads the outbox) and the listeners must come back.
func dropListeners(dsn string, at time.Duration) *fault {
	return &fault{name: "status notifications dropped", at: at, hold: 0, grace: 5 * time.Second, excused: map[string]int{},
		start: func(ctx context.Context) (string, error) {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return "", err
			}
			defer c.Close(ctx)
			var n int
			err = c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN %'`).Scan(&n)
			if err == nil && n == 0 {
				err = errors.New("no LISTEN connection to end")
			}
			return fmt.Sprintf("ended %d LISTEN connections", n), err
		},
		end: func(context.Context) error { return nil },
	}
}

// revocations are the probe's findings: how long each revocation took to
// reach the other replica, and the stale answers seen.
type revocations struct {
	mu    sync.Mutex
	lag   []int32 // µs from the revocation's answer to the other replica's first "revoked"
	stale []string
}

// revokeProbe issues a certificate on one replica, revokes it there, and
// verifies it on that replica (at once revoked) and on another until it
// says revoked: a verification begun 1 s or more after the revocation
// that still says valid is a wrong answer.
func (l *load) revokeProbe(ctx context.Context, base string, n int64) error {
	// Permit numbers of the probe are apart from the issue op's.
	id, doc, err := l.issueOne(ctx, base, 90_000_000+n)
	if err != nil {
		return fmt.Errorf("probe issuance: %w", err)
	}
	if _, err := l.call(ctx, http.MethodPost, base+"/api/v1/certificates/"+url.PathEscape(id)+"/revoke", l.issuer, nil,
		[]byte(`{"reason":"soak revocation probe"}`)); err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	revoked := time.Now()
	if valid, err := l.verdict(ctx, base, doc); err != nil {
		return err
	} else if valid {
		return l.stale(fmt.Sprintf("%s: valid on the replica that revoked it", id))
	}
	other := l.replicas[(slices.Index(l.replicas, base)+1)%len(l.replicas)]
	for {
		asked := time.Now()
		valid, err := l.verdict(ctx, other, doc)
		if err != nil {
			return err
		}
		if !valid {
			l.revoked.mu.Lock()
			l.revoked.lag = append(l.revoked.lag, int32(time.Since(revoked).Microseconds()))
			l.revoked.mu.Unlock()
			return nil
		}
		if asked.Sub(revoked) >= time.Second {
			return l.stale(fmt.Sprintf("%s: valid on another replica %s after the revocation", id, asked.Sub(revoked).Round(time.Millisecond)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *load) stale(what string) error {
	l.revoked.mu.Lock()
	l.revoked.stale = append(l.revoked.stale, what)
	l.revoked.mu.Unlock()
	return errors.New("wrong answer: " + what)
}

// verdict verifies a document on a replica.
func (l *load) verdict(ctx context.Context, base, doc string) (bool, error) {
	body, _ := json.Marshal(map[string]string{"document": doc})
	b, err := l.call(ctx, http.MethodPost, base+"/api/v1/verify", "", nil, body)
	if err != nil {
		return false, err
	}
	var v struct{ Valid *bool }
	if err := json.Unmarshal(b, &v); err != nil || v.Valid == nil {
		return false, fmt.Errorf("verify answer without a verdict: %.200s", b)
	}
	return *v.Valid, nil
}
