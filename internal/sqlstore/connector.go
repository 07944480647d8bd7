package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/errs"
)

// SaveConnector implements connectors.Store.
func (s *Store) SaveConnector(ctx context.Context, name, kind string, def []byte, at time.Time) (bool, error) {
	n, err := s.db.Exec(ctx, `UPDATE connectors SET kind = $2, definition = $3, updated_at = $4 WHERE name = $1`, name, kind, string(def), at)
	if err != nil || n == 1 {
		return false, err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO connectors (name, kind, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		name, kind, string(def), at)
	if errs.Is(err, errs.Conflict) { // created meanwhile by another apply: update it
		_, err = s.db.Exec(ctx, `UPDATE connectors SET kind = $2, definition = $3, updated_at = $4 WHERE name = $1`, name, kind, string(def), at)
		return false, err
	}
	return err == nil, err
}

// GetConnector implements connectors.Store.
func (s *Store) GetConnector(ctx context.Context, name string) ([]byte, *connectors.Connector, error) {
	c := &connectors.Connector{}
	var def string
	err := s.db.QueryRow(ctx, `SELECT definition, paused, created_at, updated_at, cursor, failures, last_error, next_run_at
		FROM connectors WHERE name = $1`, name).
		Scan(&def, &c.Paused, Time{&c.CreatedAt}, Time{&c.UpdatedAt}, &c.Cursor, &c.Failures, &c.LastError, NullTime{&c.NextRunAt})
	if err != nil {
		return nil, nil, notFound(err, "connector %s does not exist", name)
	}
	return []byte(def), c, nil
}

// ListConnectors implements connectors.Store.
func (s *Store) ListConnectors(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT name FROM connectors ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetPaused implements connectors.Store.
func (s *Store) SetPaused(ctx context.Context, name string, paused bool) error {
	n, err := s.db.Exec(ctx, `UPDATE connectors SET paused = $2 WHERE name = $1`, name, paused)
	if err == nil && n == 0 {
		err = errs.E(errs.NotFound, "connector %s does not exist", name)
	}
	return err
}

// Lease implements connectors.Store.
func (s *Store) Lease(ctx context.Context, name, owner string, now, until time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE connectors SET lease_owner = $2, lease_until = $4
		WHERE name = $1 AND (lease_owner = $2 OR lease_owner = '' OR lease_until IS NULL OR lease_until < $3)`, name, owner, now, until)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, _, err := s.GetConnector(ctx, name); err != nil {
			return err
		}
		return errs.E(errs.Conflict, "connector %s is running elsewhere", name)
	}
	return nil
}

// Release implements connectors.Store.
func (s *Store) Release(ctx context.Context, name, owner string, failed bool, lastError string, nextRun *time.Time) error {
	failures := "0"
	if failed {
		failures = "failures + 1"
	}
	_, err := s.db.Exec(ctx, `UPDATE connectors SET lease_owner = '', lease_until = NULL, failures = `+failures+`,
		last_error = $3, next_run_at = $4 WHERE name = $1 AND lease_owner = $2`, name, owner, lastError, nextRun)
	return err
}

// StartRun implements connectors.Store.
func (s *Store) StartRun(ctx context.Context, r *connectors.Run) error {
	_, err := s.db.Exec(ctx, `INSERT INTO connector_runs (id, connector, started_at, status, cursor_from, cursor_to) VALUES ($1, $2, $3, $4, $5, $5)`,
		r.ID, r.Connector, r.StartedAt, r.Status, r.CursorFrom)
	return err
}

// FinishBatch implements connectors.Store.
func (s *Store) FinishBatch(ctx context.Context, name, runID, cursor string, c connectors.Counts, lagSeconds float64) error {
	return s.db.InTx(ctx, func(q Querier) error {
		if cursor != "" {
			if _, err := q.Exec(ctx, `UPDATE connectors SET cursor = $2 WHERE name = $1`, name, cursor); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `UPDATE connector_runs SET seen = seen + $2, issued = issued + $3, revised = revised + $4,
			lifecycle = lifecycle + $5, unchanged = unchanged + $6, quarantined = quarantined + $7,
			cursor_to = CASE WHEN $8 = '' THEN cursor_to ELSE $8 END, lag_seconds = $9 WHERE id = $1`,
			runID, c.Seen, c.Issued, c.Revised, c.Lifecycle, c.Unchanged, c.Quarantined, cursor, lagSeconds)
		return err
	})
}

// FinishRun implements connectors.Store.
func (s *Store) FinishRun(ctx context.Context, runID, status, errText string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE connector_runs SET status = $2, error = $3, finished_at = $4 WHERE id = $1`, runID, status, errText, at)
	return err
}

// ListRuns implements connectors.Store.
func (s *Store) ListRuns(ctx context.Context, name string, limit int) ([]*connectors.Run, error) {
	rows, err := s.db.Query(ctx, `SELECT id, connector, started_at, finished_at, status, seen, issued, revised, lifecycle, unchanged,
		quarantined, error, cursor_from, cursor_to, lag_seconds FROM connector_runs WHERE connector = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, name, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*connectors.Run
	for rows.Next() {
		r := &connectors.Run{}
		if err := rows.Scan(&r.ID, &r.Connector, Time{&r.StartedAt}, NullTime{&r.FinishedAt}, &r.Status, &r.Seen, &r.Issued, &r.Revised,
			&r.Lifecycle, &r.Unchanged, &r.Quarantined, &r.Error, &r.CursorFrom, &r.CursorTo, &r.LagSeconds); err != nil {
			return nil, err
		}
		r.Pushed = strings.HasPrefix(r.ID, connectors.PushedRunPrefix)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Quarantine implements connectors.Store.
func (s *Store) Quarantine(ctx context.Context, q *connectors.Quarantined) error {
	_, err := s.db.Exec(ctx, `INSERT INTO connector_quarantine (id, connector, source_key, raw_hash, raw_sealed, reason, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (connector, raw_hash) DO UPDATE SET reason = excluded.reason, resolved_at = NULL`,
		q.ID, q.Connector, q.SourceKey, q.RawHash, q.Raw, q.Reason, q.CreatedAt)
	return err
}

const quarantineColumns = `id, connector, source_key, raw_hash, raw_sealed, reason, created_at, resolved_at`

func scanQuarantined(r Row) (*connectors.Quarantined, error) {
	q := &connectors.Quarantined{}
	err := r.Scan(&q.ID, &q.Connector, &q.SourceKey, &q.RawHash, &q.Raw, &q.Reason, Time{&q.CreatedAt}, NullTime{&q.ResolvedAt})
	return q, err
}

// ListQuarantine implements connectors.Store.
func (s *Store) ListQuarantine(ctx context.Context, name string, all bool) ([]*connectors.Quarantined, error) {
	rows, err := s.db.Query(ctx, `SELECT `+quarantineColumns+` FROM connector_quarantine
		WHERE connector = $1 AND ($2 OR resolved_at IS NULL) ORDER BY created_at, id`, name, all)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*connectors.Quarantined
	for rows.Next() {
		q, err := scanQuarantined(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// GetQuarantined implements connectors.Store.
func (s *Store) GetQuarantined(ctx context.Context, id string) (*connectors.Quarantined, error) {
	q, err := scanQuarantined(s.db.QueryRow(ctx, `SELECT `+quarantineColumns+` FROM connector_quarantine WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no quarantined record %s", id)
	}
	return q, nil
}

// ResolveQuarantined implements connectors.Store.
func (s *Store) ResolveQuarantined(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE connector_quarantine SET resolved_at = $2 WHERE id = $1`, id, at)
	return err
}

// MarkSeen implements connectors.Store.
func (s *Store) MarkSeen(ctx context.Context, name string, keys []string, token string) error {
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		args := []any{name, token}
		ph := make([]string, len(chunk))
		for i, k := range chunk {
			args = append(args, k)
			ph[i] = "$" + strconv.Itoa(i+3)
		}
		if _, err := s.db.Exec(ctx, `UPDATE certificate_origins SET seen_token = $2
			WHERE connector = $1 AND source_key IN (`+strings.Join(ph, ", ")+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// Unseen implements connectors.Store.
func (s *Store) Unseen(ctx context.Context, name, token string) ([]connectors.Vanished, error) {
	rows, err := s.db.Query(ctx, `SELECT source_key, certificate_id FROM certificate_origins
		WHERE connector = $1 AND (seen_token IS NULL OR seen_token <> $2) ORDER BY source_key`, name, token)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []connectors.Vanished
	for rows.Next() {
		var v connectors.Vanished
		if err := rows.Scan(&v.SourceKey, &v.CertificateID); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
