package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/certhub/certhub/exchange"
)

// AppendAudit implements exchange.LedgerStore. Entries are group-committed:
// one transaction takes the head row (its update locks it, in PostgreSQL
// across replicas too), chains every queued entry after it and moves it.
func (s *Store) AppendAudit(ctx context.Context, entries []exchange.AuditEntry) error {
	for _, e := range entries {
		if _, err := s.audit.do(ctx, s.quit, e); err != nil {
			return err
		}
	}
	return nil
}

func applyAudit(ctx context.Context, q Querier, batch []groupReq[exchange.AuditEntry]) ([]groupRes[struct{}], error) {
	var seq int64
	var head string
	// Taking the head with an update serializes appenders across replicas.
	if err := q.QueryRow(ctx, `UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &head); err != nil {
		return nil, err
	}
	rows := make([][]any, 0, len(batch))
	usage := map[exchange.UsageKey]int64{}
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
	// COPY where the adapter has it (PostgreSQL): one stream, no per-row
	// statements.
	if cp, ok := q.(Copier); ok {
		if err := cp.CopyInto(ctx, "audit_log", []string{"seq", "body", "hash", "holder"}, rows); err != nil {
			return nil, err
		}
	} else {
		for _, row := range rows {
			if _, err := q.Exec(ctx, `INSERT INTO audit_log (seq, body, hash, holder) VALUES ($1, $2, $3, $4)`, row...); err != nil {
				return nil, err
			}
		}
	}
	if _, err := q.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, head); err != nil {
		return nil, err
	}
	// The counters move in the same transaction as the entries they count.
	// Only the holder of the head row writes them, so their order needs no
	// sorting to avoid deadlocks.
	keys := make([]exchange.UsageKey, 0, len(usage))
	for k := range usage {
		keys = append(keys, k)
	}
	// Many counters in one statement: a batch of lookups touches one per
	// consumer, type and purpose, and a round trip each would cost the
	// audited lookup a fifth of its throughput.
	const perStatement = 200
	for len(keys) > 0 {
		chunk := keys[:min(perStatement, len(keys))]
		keys = keys[len(chunk):]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO usage_daily (day, action, actor, type_code, authority, purpose, count) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, k := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, k.Day, k.Action, k.Actor, k.Type, k.Authority, k.Purpose, usage[k])
		}
		sb.WriteString(` ON CONFLICT (day, action, actor, type_code, authority, purpose) DO UPDATE SET count = usage_daily.count + excluded.count`)
		if _, err := q.Exec(ctx, sb.String(), args...); err != nil {
			return nil, err
		}
	}
	return make([]groupRes[struct{}], len(batch)), nil
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
