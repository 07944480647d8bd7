package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// AppendAudit implements exchange.LedgerStore. Entries are group-committed:
// one transaction takes the head row (its update locks it, in PostgreSQL
// across replicas too), chains every queued entry after it and moves it.
func (s *Store) AppendAudit(ctx context.Context, entries []exchange.AuditEntry) error {
	_, err := s.audit.doAll(ctx, s.quit, entries)
	return err
}

// chain numbers and hashes a batch after the head, and sums its usage.
func chain(seq int64, head string, batch []groupReq[exchange.AuditEntry]) (rows [][]any, usage map[exchange.UsageKey]int64, last int64, hash string) {
	rows = make([][]any, 0, len(batch))
	usage = map[exchange.UsageKey]int64{}
	for _, r := range batch {
		e := r.req
		seq++
		e.Seq = seq
		body := exchange.Body(e)
		head = exchange.ChainHash(head, body)
		rows = append(rows, []any{seq, string(body), head, nullString(e.Holder)})
		for k, n := range exchange.Usage(e) {
			usage[k] += n
		}
	}
	return rows, usage, seq, head
}

// pipelinedLedger appends where the database can pipeline (PostgreSQL).
// Each batch — entries, head and counters — goes in one round trip, run
// by the server as one implicit transaction, chained on the head kept in
// memory. Up to depth batches may be in flight; the hub uses 1: a second
// batch sent on another connection can reach the head's lock before the
// first and be refused, and on a 2-core machine those fallbacks cost more
// than the overlap gained (docs/benchmarks.md).
//
// Every batch's first statement locks the head row, as every appender
// does (one lock order, so no deadlock), and refuses the batch unless the
// head is exactly the one it was built on: a batch in flight behind a
// failed one, or behind another replica's append, fails whole. Such a
// batch then goes the locking way (appendLocked), which always makes
// progress, and the head it leaves is kept for the next batches. With one
// replica every batch takes the fast way; with several, contention costs
// speed, never order.
type pipelinedLedger struct {
	db         DB
	batch      Batcher
	depth, max int

	seq   int64 // the head after the last batch launched
	hash  string
	fresh bool
}

type ledgerFlight struct {
	batch []groupReq[exchange.AuditEntry]
	done  chan error
}

func (p *pipelinedLedger) run(ch <-chan groupReq[exchange.AuditEntry], quit <-chan struct{}) {
	ctx := context.Background()
	var inflight []*ledgerFlight
	draining := false // after a failure, launch nothing until the flights land
	for {
		var landed <-chan error
		if len(inflight) > 0 {
			landed = inflight[0].done
		}
		in := ch
		if len(inflight) >= p.depth || draining {
			in = nil
		}
		select {
		case <-quit:
			return
		case r := <-in:
			batch := fill(ch, r, p.max)
			done, err := p.launch(ctx, batch)
			if err != nil {
				answer(batch, err)
				continue
			}
			inflight = append(inflight, &ledgerFlight{batch: batch, done: done})
		case err := <-landed:
			f := inflight[0]
			inflight = inflight[1:]
			if err != nil {
				// The head is not what later batches were built on: redo
				// this one under the lock, and the next ones as they land.
				p.fresh, draining = false, true
				if errs.Is(err, errs.Conflict) {
					err = p.fallback(ctx, f.batch)
				}
			}
			answer(f.batch, err)
			if len(inflight) == 0 {
				draining = false
			}
		}
	}
}

func answer(batch []groupReq[exchange.AuditEntry], err error) {
	for _, r := range batch {
		r.done <- groupRes[any]{err: err}
	}
}

// launch chains a batch on the expected head and sends it.
func (p *pipelinedLedger) launch(ctx context.Context, batch []groupReq[exchange.AuditEntry]) (chan error, error) {
	if !p.fresh {
		if err := p.db.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&p.seq, &p.hash); err != nil {
			return nil, err
		}
		p.fresh = true
	}
	rows, usage, last, hash := chain(p.seq, p.hash, batch)
	stmts := []Stmt{{SQL: `SELECT 1 / (CASE WHEN seq = $1 AND hash = $2 THEN 1 ELSE 0 END) FROM audit_head WHERE id = 1 FOR UPDATE`,
		Args: []any{p.seq, p.hash}}}
	stmts = append(stmts, insertRows("audit_log", []string{"seq", "body", "hash", "holder"}, rows, 1000)...)
	stmts = append(stmts, Stmt{SQL: `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, Args: []any{last, hash}})
	stmts = append(stmts, usageUpserts(usage)...)
	p.seq, p.hash = last, hash
	done := make(chan error, 1)
	go func() { done <- p.batch.ExecBatch(ctx, stmts) }()
	return done, nil
}

// fallback appends a refused batch under the lock and keeps the head it
// leaves.
func (p *pipelinedLedger) fallback(ctx context.Context, batch []groupReq[exchange.AuditEntry]) error {
	var last int64
	var hash string
	err := p.db.InTx(ctx, func(q Querier) error {
		var err error
		last, hash, err = appendLocked(ctx, q, batch)
		return err
	})
	if err == nil {
		p.seq, p.hash, p.fresh = last, hash, true
	}
	return err
}

// insertRows builds multi-row INSERT statements of at most per rows each.
func insertRows(table string, cols []string, rows [][]any, per int) []Stmt {
	var out []Stmt
	for len(rows) > 0 {
		chunk := rows[:min(per, len(rows))]
		rows = rows[len(chunk):]
		var sb strings.Builder
		fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
		args := make([]any, 0, len(cols)*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(args)+1, len(r)) + ")")
			args = append(args, r...)
		}
		out = append(out, Stmt{SQL: sb.String(), Args: args})
	}
	return out
}

func applyAudit(ctx context.Context, q Querier, batch []groupReq[exchange.AuditEntry]) ([]groupRes[struct{}], error) {
	if _, _, err := appendLocked(ctx, q, batch); err != nil {
		return nil, err
	}
	return make([]groupRes[struct{}], len(batch)), nil
}

// appendLocked appends a batch inside a transaction, taking the head row
// first: its update locks it (in PostgreSQL across replicas too), so
// appenders queue. It returns the new head.
func appendLocked(ctx context.Context, q Querier, batch []groupReq[exchange.AuditEntry]) (int64, string, error) {
	var seq int64
	var head string
	if err := q.QueryRow(ctx, `UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &head); err != nil {
		return 0, "", err
	}
	rows, usage, seq, head := chain(seq, head, batch)
	// COPY where the adapter has it (PostgreSQL): one stream, no per-row
	// statements.
	if cp, ok := q.(Copier); ok {
		if err := cp.CopyInto(ctx, "audit_log", []string{"seq", "body", "hash", "holder"}, rows); err != nil {
			return 0, "", err
		}
	} else {
		for _, row := range rows {
			if _, err := q.Exec(ctx, `INSERT INTO audit_log (seq, body, hash, holder) VALUES ($1, $2, $3, $4)`, row...); err != nil {
				return 0, "", err
			}
		}
	}
	if _, err := q.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, head); err != nil {
		return 0, "", err
	}
	// The counters move in the same transaction as the entries they count.
	for _, st := range usageUpserts(usage) {
		if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
			return 0, "", err
		}
	}
	return seq, head, nil
}

// usageUpserts adds a batch's counts to the daily counters, many counters
// per statement: a batch of lookups touches one per consumer, type and
// purpose, and a round trip each would cost the audited lookup a fifth of
// its throughput. Only one appender at a time gets here, so the counters'
// order needs no sorting to avoid deadlocks.
func usageUpserts(usage map[exchange.UsageKey]int64) []Stmt {
	rows := make([][]any, 0, len(usage))
	for k, n := range usage {
		rows = append(rows, []any{k.Day, k.Action, k.Actor, k.Type, k.Authority, k.Purpose, n})
	}
	stmts := insertRows("usage_daily", []string{"day", "action", "actor", "type_code", "authority", "purpose", "count"}, rows, 200)
	for i := range stmts {
		stmts[i].SQL += ` ON CONFLICT (day, action, actor, type_code, authority, purpose) DO UPDATE SET count = usage_daily.count + excluded.count`
	}
	return stmts
}

// ScanAudit implements exchange.LedgerStore.
func (s *Store) ScanAudit(ctx context.Context, from, to int64, fn func(exchange.LedgerRecord) error) error {
	const page = 5000
	for {
		q := `SELECT seq, body, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`
		args := []any{from, page}
		if to > 0 {
			q = `SELECT seq, body, hash FROM audit_log WHERE seq >= $1 AND seq <= $3 ORDER BY seq LIMIT $2`
			args = append(args, to)
		}
		rows, err := s.db.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var r exchange.LedgerRecord
			var body string
			if err := rows.Scan(&r.Seq, &body, &r.Hash); err != nil {
				rows.Close()
				return err
			}
			r.Body = []byte(body)
			n++
			from = r.Seq + 1
			if err := fn(r); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n < page {
			return nil
		}
	}
}

// AuditHead implements exchange.LedgerStore.
func (s *Store) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := s.db.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	return seq, hash, err
}

// SaveCheckpoint implements exchange.LedgerStore.
func (s *Store) SaveCheckpoint(ctx context.Context, c *exchange.Checkpoint) error {
	_, err := s.db.Exec(ctx, `INSERT INTO audit_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING`,
		c.Size, c.Root, string(c.Note), c.At)
	return err
}

// ListCheckpoints implements exchange.LedgerStore.
func (s *Store) ListCheckpoints(ctx context.Context) ([]*exchange.Checkpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT size, root, note, at FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*exchange.Checkpoint
	for rows.Next() {
		c := &exchange.Checkpoint{}
		var n string
		if err := rows.Scan(&c.Size, &c.Root, &n, Time{&c.At}); err != nil {
			return nil, err
		}
		c.Note = []byte(n)
		out = append(out, c)
	}
	return out, rows.Err()
}

// HolderAudit implements exchange.LedgerStore.
func (s *Store) HolderAudit(ctx context.Context, holder string, limit int) ([]exchange.AuditEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT body FROM audit_log WHERE holder = $1 ORDER BY seq DESC LIMIT $2`, holder, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []exchange.AuditEntry
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var e exchange.AuditEntry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UsageReport implements exchange.LedgerStore.
func (s *Store) UsageReport(ctx context.Context, from, to string) ([]exchange.UsageRow, error) {
	rows, err := s.db.Query(ctx, `SELECT day, action, actor, type_code, authority, purpose, count FROM usage_daily
		WHERE day >= $1 AND day <= $2 ORDER BY day, action, actor, type_code, authority, purpose`, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []exchange.UsageRow
	for rows.Next() {
		var r exchange.UsageRow
		if err := rows.Scan(&r.Day, &r.Action, &r.Actor, &r.Type, &r.Authority, &r.Purpose, &r.Count); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
