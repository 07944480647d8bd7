package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

const subscriptionColumns = `id, consumer_id, url, types, authorities, events, follow_days, status, created_at, deleted_at`

func scanSubscription(r Row) (*exchange.Subscription, error) {
	s := &exchange.Subscription{}
	var types, auths, events string
	if err := r.Scan(&s.ID, &s.Consumer, &s.URL, &types, &auths, &events, &s.FollowDays, &s.Status, Time{&s.CreatedAt}, NullTime{&s.DeletedAt}); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw string
		to  *[]string
	}{{types, &s.Types}, {auths, &s.Authorities}, {events, &s.Events}} {
		if err := json.Unmarshal([]byte(f.raw), f.to); err != nil {
			return nil, errs.Wrap(err, "decode subscription filters")
		}
	}
	return s, nil
}

// CreateSubscription implements exchange.EventStore.
func (s *Store) CreateSubscription(ctx context.Context, sub *exchange.Subscription) error {
	types, _ := json.Marshal(sub.Types)
	auths, _ := json.Marshal(sub.Authorities)
	events, _ := json.Marshal(sub.Events)
	_, err := s.db.Exec(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		sub.ID, sub.Consumer, sub.URL, string(types), string(auths), string(events), sub.FollowDays, sub.Status, sub.CreatedAt, sub.DeletedAt)
	return conflict(err, "subscription %s already exists", sub.ID)
}

// Subscription implements exchange.EventStore.
func (s *Store) Subscription(ctx context.Context, id string) (*exchange.Subscription, error) {
	sub, err := scanSubscription(s.db.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1 AND status = 'active'`, id))
	if err != nil {
		return nil, notFound(err, "no subscription %s", id)
	}
	return sub, nil
}

// ListSubscriptions implements exchange.EventStore.
func (s *Store) ListSubscriptions(ctx context.Context, consumer string) ([]*exchange.Subscription, error) {
	if consumer == "" {
		return list(ctx, s.db, scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE status = 'active' ORDER BY created_at, id`)
	}
	return list(ctx, s.db, scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE status = 'active' AND consumer_id = $1 ORDER BY created_at, id`, consumer)
}

// DeleteSubscription implements exchange.EventStore.
func (s *Store) DeleteSubscription(ctx context.Context, id string, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE subscriptions SET status = 'deleted', deleted_at = $2 WHERE id = $1 AND status = 'active'`, id, at)
	if err == nil && n == 0 {
		err = errs.E(errs.NotFound, "no subscription %s", id)
	}
	return err
}

// Follow implements exchange.EventStore.
func (s *Store) Follow(ctx context.Context, consumer, caseID string, lineages []string, until time.Time) error {
	stmts := make([]Stmt, 0, len(lineages))
	for _, l := range lineages {
		stmts = append(stmts, Stmt{SQL: `INSERT INTO follows (consumer_id, lineage, case_id, until) VALUES ($1, $2, $3, $4)
			ON CONFLICT (lineage, consumer_id) DO UPDATE SET case_id = excluded.case_id, until = excluded.until`, Args: []any{consumer, l, caseID, until}})
	}
	return s.execAll(ctx, stmts)
}

// execAll runs statements in one transaction, pipelined where the adapter
// can.
func (s *Store) execAll(ctx context.Context, stmts []Stmt) error {
	return s.db.InTx(ctx, func(q Querier) error {
		if b, ok := q.(Batcher); ok {
			return b.ExecBatch(ctx, stmts)
		}
		for _, st := range stmts {
			if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// placeholders returns "$from, $from+1, …" for n arguments.
func placeholders(from, n int) string {
	ph := make([]string, n)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ph, ", ")
}

// Followers implements exchange.EventStore.
func (s *Store) Followers(ctx context.Context, lineages []string, at time.Time) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for start := 0; start < len(lineages); start += 500 {
		chunk := lineages[start:min(start+500, len(lineages))]
		args := []any{at}
		for _, l := range chunk {
			args = append(args, l)
		}
		rows, err := s.db.Query(ctx, `SELECT lineage, consumer_id, case_id FROM follows WHERE until >= $1 AND lineage IN (`+placeholders(2, len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var l, c, caseID string
			if err := rows.Scan(&l, &c, &caseID); err != nil {
				rows.Close()
				return nil, err
			}
			if out[l] == nil {
				out[l] = map[string]string{}
			}
			out[l][c] = caseID
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LeaseDispatch implements exchange.EventStore.
func (s *Store) LeaseDispatch(ctx context.Context, owner string, now, until time.Time) (int64, bool, error) {
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET lease_owner = $1, lease_until = $2
		WHERE name = 'webhooks' AND (lease_owner = $1 OR lease_until IS NULL OR lease_until < $3)`, owner, until, now)
	if err != nil || n == 0 {
		return 0, false, err
	}
	var seq int64
	err = s.db.QueryRow(ctx, `SELECT seq FROM event_cursor WHERE name = 'webhooks'`).Scan(&seq)
	return seq, err == nil, err
}

const eventSelect = `e.seq, e.id, e.kind, e.certificate_id, e.lineage, e.type_code, e.authority, e.version, e.reason, e.at, e.home_hub`

func scanEvent(r Row) (*exchange.Event, error) {
	e := &exchange.Event{}
	return e, r.Scan(&e.Seq, &e.ID, &e.Kind, &e.CertificateID, &e.Lineage, &e.Type, &e.Authority, &e.Version, &e.Reason, Time{&e.At}, &e.HomeHub)
}

// EventsAfter implements exchange.EventStore.
func (s *Store) EventsAfter(ctx context.Context, seq int64, limit int, settledBefore time.Time) ([]*exchange.Event, error) {
	evs, err := list(ctx, s.db, scanEvent, `SELECT `+eventSelect+` FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, err
	}
	prev := seq
	for i, e := range evs {
		if e.Seq != prev+1 && !e.At.Before(settledBefore) {
			return evs[:i], nil
		}
		prev = e.Seq
	}
	return evs, nil
}

// analyzeEvery is how many deliveries a fan-out adds before it refreshes
// the planner's statistics of the deliveries table itself.
const analyzeEvery = 20000

// Fanout implements exchange.EventStore.
//
// After a backfill the fan-out adds deliveries by the tens of thousands a
// second, and until autovacuum analyzes the table (a minute or more
// later) PostgreSQL plans the claims for the table it last saw, often
// empty: with every estimate at one row it picks indexes that read
// thousands of entries per candidate, and claims took 35-270 ms instead of
// 2. So every analyzeEvery deliveries it adds, the fan-out analyzes the
// table itself, as PostgreSQL advises after a bulk load (ANALYZE reads a
// sample of 30,000 rows, whatever the table's size).
func (s *Store) Fanout(ctx context.Context, owner string, ds []*exchange.Delivery, cursor int64) error {
	if err := s.fanout(ctx, owner, ds, cursor); err != nil {
		return err
	}
	if s.fannedOut.Add(int64(len(ds))) >= analyzeEvery {
		s.fannedOut.Store(0)
		// Best effort: the deliveries are committed, and autovacuum
		// analyzes the table later anyway.
		_, _ = s.db.Exec(ctx, `ANALYZE deliveries`)
	}
	return nil
}

func (s *Store) fanout(ctx context.Context, owner string, ds []*exchange.Delivery, cursor int64) error {
	return s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE event_cursor SET seq = $2 WHERE name = 'webhooks' AND lease_owner = $1 AND seq < $2`, owner, cursor)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.Conflict, "the dispatcher's lease was lost; another process fans events out")
		}
		stmts := make([]Stmt, len(ds))
		for i, d := range ds {
			stmts[i] = Stmt{SQL: `INSERT INTO deliveries (subscription_id, event_seq, lineage, case_id, status, next_at, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (subscription_id, event_seq) DO NOTHING`,
				Args: []any{d.Subscription, d.EventSeq, d.Lineage, d.CaseID, d.Status, d.NextAt, d.CreatedAt}}
		}
		return execStmts(ctx, q, stmts)
	})
}

// EmitExpired implements exchange.EventStore.
func (s *Store) EmitExpired(ctx context.Context, since, today certificates.Date, at time.Time, newID func() string) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.InTx(ctx, func(q Querier) error {
			rows, err := q.Query(ctx, `SELECT c.id, c.lineage, c.type_code, c.authority, c.version FROM certificates c
				WHERE c.state = 'valid' AND c.valid_until < $1 AND c.valid_until >= $2
				AND NOT EXISTS (SELECT 1 FROM events e WHERE e.certificate_id = c.id AND e.kind = 'expired')
				ORDER BY c.valid_until LIMIT 500`, today, since)
			if err != nil {
				return err
			}
			var batch [][]any
			for rows.Next() {
				var id, lineage, typ, auth string
				var version int32
				if err := rows.Scan(&id, &lineage, &typ, &auth, &version); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, []any{newID(), exchange.EventExpired, id, lineage, typ, auth, version, "", at})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, args := range batch {
				if _, err := q.Exec(ctx, insertEventSQL, args...); err != nil {
					return err
				}
			}
			n = len(batch)
			return nil
		})
		total += n
		if err != nil || n < 500 {
			return total, err
		}
	}
}

// prunableEvents are the events Prune deletes: older than its limit, read
// by every cursor, and needed by no delivery left.
const prunableEvents = `at < $1 AND seq <= (SELECT min(seq) FROM event_cursor)
	AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)`

// Prune implements exchange.EventStore. It records the highest seq it
// deletes (PrunedThrough): the events it deletes are bounded by a seq read
// first, so that one committed meanwhile is neither deleted unrecorded nor
// recorded undeleted.
func (s *Store) Prune(ctx context.Context, before time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var upto *int64
		if err := q.QueryRow(ctx, `SELECT max(seq) FROM events WHERE `+prunableEvents, before).Scan(&upto); err != nil {
			return err
		}
		var last int64
		if upto != nil {
			last = *upto
		}
		for _, st := range []Stmt{
			{SQL: `DELETE FROM follows WHERE until < $1`, Args: []any{before}},
			{SQL: `DELETE FROM delivery_attempts WHERE delivery_id IN
				(SELECT id FROM deliveries WHERE status <> 'pending' AND created_at < $1)`, Args: []any{before}},
			{SQL: `DELETE FROM deliveries WHERE status <> 'pending' AND created_at < $1`, Args: []any{before}},
			{SQL: `DELETE FROM events WHERE ` + prunableEvents + ` AND seq <= $2`, Args: []any{before, last}},
			{SQL: `UPDATE events_pruned SET seq = $1 WHERE seq < $1`, Args: []any{last}},
			{SQL: `DELETE FROM client_assertions WHERE expires_at < $1`, Args: []any{before}},
		} {
			if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
		}
		return nil
	})
}

const deliverySelect = `d.id, d.subscription_id, d.event_seq, d.lineage, d.case_id, d.status, d.attempts, d.next_at, d.last_status,
	d.last_error, d.created_at, d.delivered_at`

func scanDelivery(r Row, extra ...any) (*exchange.Delivery, error) {
	d := &exchange.Delivery{}
	dest := append([]any{&d.ID, &d.Subscription, &d.EventSeq, &d.Lineage, &d.CaseID, &d.Status, &d.Attempts, Time{&d.NextAt}, &d.LastStatus,
		&d.LastError, Time{&d.CreatedAt}, NullTime{&d.DeliveredAt}}, extra...)
	return d, r.Scan(dest...)
}

// ClaimDeliveries implements exchange.EventStore.
func (s *Store) ClaimDeliveries(ctx context.Context, now, until time.Time, limit int) ([]*exchange.Delivery, error) {
	var out []*exchange.Delivery
	err := s.db.InTx(ctx, func(q Querier) error {
		// The due deliveries of active subscriptions, earliest first, none
		// before an earlier pending event of the same certificate: its
		// event is the first pending one of its lineage. Asked as a min()
		// (not NOT EXISTS of an earlier one) so that PostgreSQL answers it
		// from the (subscription, lineage, event_seq) index with both
		// equalities as the index condition even when it believes the
		// table empty, as it does while a backfill fills it faster than
		// autovacuum analyzes (the NOT EXISTS read 6,000 index entries for
		// each candidate then).
		due := `d.status = 'pending' AND d.next_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1)
			AND d.event_seq = (SELECT min(p.event_seq) FROM deliveries p WHERE p.subscription_id = d.subscription_id
				AND p.lineage = d.lineage AND p.status = 'pending')`
		claim := `SELECT ` + deliverySelect + `, sub.url, ` + eventSelect + `
			FROM deliveries d JOIN subscriptions sub ON sub.id = d.subscription_id JOIN events e ON e.seq = d.event_seq
			WHERE ` + due + ` AND sub.status = 'active'
			ORDER BY d.next_at, d.id LIMIT $2`
		if _, ok := q.(LateralJoins); ok {
			// The first $2 of each active subscription, walked in order
			// on deliveries_pending, with deliveries_pending_order for
			// the earlier pending event (migration 0031), then the first $2
			// of those: the same deliveries, without sorting every due
			// one (after a backfill of 200,000, 35-50 ms a claim) nor
			// reading past those of a deleted subscription.
			claim = `SELECT ` + deliverySelect + `, sub.url, ` + eventSelect + `
			FROM subscriptions sub CROSS JOIN LATERAL (SELECT * FROM deliveries d
				WHERE d.subscription_id = sub.id AND ` + due + ` ORDER BY d.next_at, d.id LIMIT $2) d
			JOIN events e ON e.seq = d.event_seq
			WHERE sub.status = 'active'
			ORDER BY d.next_at, d.id LIMIT $2`
		}
		rows, err := q.Query(ctx, claim, now, limit)
		if err != nil {
			return err
		}
		var found []*exchange.Delivery
		for rows.Next() {
			e := &exchange.Event{}
			var url string
			d, err := scanDelivery(rows, &url, &e.Seq, &e.ID, &e.Kind, &e.CertificateID, &e.Lineage, &e.Type, &e.Authority, &e.Version, &e.Reason, Time{&e.At}, &e.HomeHub)
			if err != nil {
				rows.Close()
				return err
			}
			d.URL, d.Event = url, e
			found = append(found, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(found) == 0 {
			return nil
		}
		// Claim them in one statement; one another process claimed
		// meanwhile is not returned, and skipped.
		args := []any{until, now}
		for _, d := range found {
			args = append(args, d.ID)
		}
		ids, err := list(ctx, q, func(r Row) (id int64, err error) { return id, r.Scan(&id) },
			`UPDATE deliveries SET lease_until = $1 WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < $2)
			AND id IN (`+placeholders(3, len(found))+`) RETURNING id`, args...)
		if err != nil {
			return err
		}
		for _, d := range found {
			if slices.Contains(ids, d.ID) {
				out = append(out, d)
			}
		}
		return nil
	})
	return out, err
}

// FinishAttempts implements exchange.EventStore.
func (s *Store) FinishAttempts(ctx context.Context, done []exchange.Finished) error {
	stmts := make([]Stmt, 0, 2*len(done))
	for _, f := range done {
		d, a := f.Delivery, f.Attempt
		stmts = append(stmts,
			Stmt{SQL: `INSERT INTO delivery_attempts (delivery_id, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)`,
				Args: []any{d.ID, a.At, a.StatusCode, a.Error, a.DurationMS}},
			Stmt{SQL: `UPDATE deliveries SET status = $2, attempts = $3, next_at = $4, last_status = $5, last_error = $6,
				delivered_at = $7, lease_until = NULL WHERE id = $1`, Args: []any{d.ID, d.Status, d.Attempts, d.NextAt, d.LastStatus, d.LastError, d.DeliveredAt}})
	}
	return s.execAll(ctx, stmts)
}

// ListDeliveries implements exchange.EventStore.
func (s *Store) ListDeliveries(ctx context.Context, subscription, status string, limit int) ([]*exchange.Delivery, error) {
	ds, err := list(ctx, s.db, func(r Row) (*exchange.Delivery, error) {
		e := &exchange.Event{}
		d, err := scanDelivery(r, &e.Seq, &e.ID, &e.Kind, &e.CertificateID, &e.Lineage, &e.Type, &e.Authority, &e.Version, &e.Reason, Time{&e.At}, &e.HomeHub)
		d.Event = e
		return d, err
	}, `SELECT `+deliverySelect+`, `+eventSelect+` FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.subscription_id = $1 AND ($2 = '' OR d.status = $2) ORDER BY d.id DESC LIMIT $3`, subscription, status, limit)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	byID := map[int64]*exchange.Delivery{}
	args := make([]any, 0, len(ds))
	for _, d := range ds {
		byID[d.ID] = d
		args = append(args, d.ID)
	}
	rows, err := s.db.Query(ctx, `SELECT delivery_id, at, status_code, error, duration_ms FROM delivery_attempts
		WHERE delivery_id IN (`+placeholders(1, len(args))+`) ORDER BY at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a exchange.Attempt
		if err := rows.Scan(&id, Time{&a.At}, &a.StatusCode, &a.Error, &a.DurationMS); err != nil {
			return nil, err
		}
		byID[id].History = append(byID[id].History, a)
	}
	return ds, rows.Err()
}

// Redeliver implements exchange.EventStore.
func (s *Store) Redeliver(ctx context.Context, id int64, now time.Time) (string, error) {
	var sub string
	if err := s.db.QueryRow(ctx, `SELECT subscription_id FROM deliveries WHERE id = $1`, id).Scan(&sub); err != nil {
		return "", notFound(err, "no delivery %d", id)
	}
	_, err := s.db.Exec(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = $2, lease_until = NULL WHERE id = $1`, id, now)
	return sub, err
}
