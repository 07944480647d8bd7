package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
)

// aggregationCursor is the event_cursor row of the push to the parent. It
// exists once a push was tried, and from then on Prune keeps every event
// the parent has not applied.
const aggregationCursor = "aggregation"

// LeaseAggregation implements federation.AggregationStore. The cursor and
// whether the backfill is done are read in one statement: a backfill
// started over (by the command, on another process) is seen at the next
// push.
func (s *Store) LeaseAggregation(ctx context.Context, owner string, now, until time.Time) (federation.PushPlace, bool, error) {
	var p federation.PushPlace
	if _, err := s.db.Exec(ctx, `INSERT INTO event_cursor (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`, aggregationCursor); err != nil {
		return p, false, err
	}
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET lease_owner = $2, lease_until = $3
		WHERE name = $1 AND (lease_owner = $2 OR lease_until IS NULL OR lease_until < $4)`, aggregationCursor, owner, until, now)
	if err != nil || n == 0 {
		return p, false, err
	}
	err = s.db.QueryRow(ctx, `SELECT c.seq, b.done_at IS NOT NULL FROM event_cursor c LEFT JOIN aggregation_backfill b ON b.name = c.name
		WHERE c.name = $1`, aggregationCursor).Scan(&p.Cursor, &p.Backfilled)
	return p, err == nil, err
}

// MoveAggregation implements federation.AggregationStore.
func (s *Store) MoveAggregation(ctx context.Context, owner string, cursor int64) error {
	n, err := s.db.Exec(ctx, `UPDATE event_cursor SET seq = $3 WHERE name = $1 AND lease_owner = $2`, aggregationCursor, owner, cursor)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "the push lease was lost; another replica pushes to the parent")
	}
	return nil
}

const federatedColumns = `id, home_hub, lineage, type_code, authority, version, holder_kind, holder_index, holder_sealed, holder_name,
	valid_from, valid_until, state, state_reason, superseded_by, document_key, document_offset, document_length, document_sha256, kid,
	issued_at, updated_at`

// federatedArgs are a version's values for federatedColumns.
func federatedArgs(v *federation.Version) []any {
	return []any{v.ID, v.HomeHub, v.Lineage, v.Type, v.Authority, v.Version, string(v.HolderKind), v.HolderIndex, v.HolderSealed, v.HolderName,
		v.ValidFrom, v.ValidUntil, string(v.State), v.StateReason, nullString(v.SupersededBy), v.DocumentKey, v.DocumentOffset, v.DocumentLength,
		v.DocumentSHA256, v.KID, v.IssuedAt, v.UpdatedAt}
}

const insertFederatedSQL = `INSERT INTO federated_certificates (` + federatedColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	` + keepHeld

// keepHeld leaves a version already held as it is; correctHeld gives it
// the state a backfill carries, when that differs (and only then, so that
// a page sent twice changes nothing and writes no event).
const (
	keepHeld    = `ON CONFLICT (id) DO NOTHING`
	correctHeld = `ON CONFLICT (id) DO UPDATE SET state = excluded.state, state_reason = excluded.state_reason,
		superseded_by = excluded.superseded_by, updated_at = excluded.updated_at
	WHERE federated_certificates.state <> excluded.state OR federated_certificates.state_reason <> excluded.state_reason
		OR COALESCE(federated_certificates.superseded_by, '') <> COALESCE(excluded.superseded_by, '')`
	// upsertFederatedSQL keeps a version, or corrects the state of one held.
	upsertFederatedSQL = `INSERT INTO federated_certificates (` + federatedColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
	` + correctHeld
)

func scanFederated(r Row) (*federation.Version, error) {
	v := &federation.Version{}
	var kind, state string
	var superseded *string
	err := r.Scan(&v.ID, &v.HomeHub, &v.Lineage, &v.Type, &v.Authority, &v.Version, &kind, &v.HolderIndex, &v.HolderSealed, &v.HolderName,
		&v.ValidFrom, &v.ValidUntil, &state, &v.StateReason, &superseded, &v.DocumentKey, &v.DocumentOffset, &v.DocumentLength, &v.DocumentSHA256, &v.KID,
		Time{&v.IssuedAt}, Time{&v.UpdatedAt})
	if err != nil {
		return nil, err
	}
	v.HolderKind, v.State = certificates.HolderKind(kind), certificates.State(state)
	if superseded != nil {
		v.SupersededBy = *superseded
	}
	return v, nil
}

// FederatedVersion implements federation.AggregationStore.
func (s *Store) FederatedVersion(ctx context.Context, id string) (*federation.Version, error) {
	v, err := scanFederated(s.db.QueryRow(ctx, `SELECT `+federatedColumns+` FROM federated_certificates WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no certificate %s was aggregated here", id)
	}
	return v, nil
}

// FederatedVersions lists the versions of a home hub's certificates kept
// here, by id (for the operator and the tests).
func (s *Store) FederatedVersions(ctx context.Context, hub string) ([]*federation.Version, error) {
	return list(ctx, s.db, scanFederated, `SELECT `+federatedColumns+` FROM federated_certificates WHERE home_hub = $1 ORDER BY id`, hub)
}

// InboxCursors implements federation.AggregationStore.
func (s *Store) InboxCursors(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT hub_id, seq FROM federation_inbox`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// stateAfter is the state a lifecycle event leaves a version in.
var stateAfter = map[string]certificates.State{
	exchange.EventSuspended:  certificates.StateSuspended,
	exchange.EventReinstated: certificates.StateValid,
	exchange.EventRevoked:    certificates.StateRevoked,
}

// ApplyPush implements federation.AggregationStore. The inbox row is
// updated first, which holds its lock (on PostgreSQL) until commit: two
// replicas given the same push apply it one after the other, and the
// second finds the cursor already past it. The changes' statements go in
// one round trip where the adapter pipelines.
func (s *Store) ApplyPush(ctx context.Context, hub string, after int64, changes []federation.Change, types []*exchange.FederatedType,
	at time.Time) (int64, int, error) {
	s.copies.seen.Store(true) // lookups here read copies from now on
	var cursor int64
	applied := 0
	typeStmts, err := federatedTypeStmts(types)
	if err != nil {
		return 0, 0, err
	}
	err = s.db.InTx(ctx, func(q Querier) error {
		var err error
		if cursor, err = lockInbox(ctx, q, hub, after, at); err != nil {
			return err
		}
		stmts := typeStmts
		for _, ch := range changes {
			if ch.Seq <= cursor {
				continue // applied by an earlier push
			}
			stmts = append(stmts, changeStmts(ch)...)
			cursor = ch.Seq
			applied++
		}
		stmts = append(stmts, Stmt{SQL: `UPDATE federation_inbox SET seq = $2 WHERE hub_id = $1`, Args: []any{hub, cursor}})
		return execStmts(ctx, q, stmts)
	})
	return cursor, applied, err
}

// lockInbox takes the inbox row of hub (made if new) and returns its
// cursor; errs.Conflict, with the cursor, if the push continues past it.
func lockInbox(ctx context.Context, q Querier, hub string, after int64, at time.Time) (int64, error) {
	if _, err := q.Exec(ctx, `INSERT INTO federation_inbox (hub_id, seq, updated_at) VALUES ($1, 0, $2) ON CONFLICT (hub_id) DO NOTHING`, hub, at); err != nil {
		return 0, err
	}
	var cursor int64
	if err := q.QueryRow(ctx, `UPDATE federation_inbox SET updated_at = $2 WHERE hub_id = $1 RETURNING seq`, hub, at).Scan(&cursor); err != nil {
		return 0, err
	}
	if after > cursor {
		return cursor, errs.E(errs.Conflict, "hub %s's outbox is applied here through %d, the push continues after %d", hub, cursor, after)
	}
	return cursor, nil
}

// execStmts runs statements in order, in one round trip where the adapter
// pipelines.
func execStmts(ctx context.Context, q Querier, stmts []Stmt) error {
	if b, ok := q.(Batcher); ok {
		return b.ExecBatch(ctx, stmts)
	}
	for _, st := range stmts {
		if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
	}
	return nil
}

const insertFederatedEventSQL = `INSERT INTO events (id, kind, certificate_id, lineage, type_code, authority, version, reason, at, home_hub)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`

func federatedEventArgs(e exchange.Event) []any {
	return []any{e.ID, e.Kind, e.CertificateID, e.Lineage, e.Type, e.Authority, e.Version, e.Reason, e.At, e.HomeHub}
}

// changeStmts are the statements that apply one pushed event: its version
// kept (one already here is left as it is, but for a backfilled one, which
// carries its state: see correctBackfilled), the older versions of a
// revised one superseded, a lifecycle state set; and the event joins this
// hub's outbox, for its own parent and webhooks.
func changeStmts(ch federation.Change) []Stmt {
	e := ch.Event
	var out []Stmt
	if v := ch.Version; v != nil {
		insert := insertFederatedSQL
		if e.Kind == exchange.EventBackfilled {
			// A child passes on, as an event of its outbox, a version its
			// own child backfilled, with the state it holds when it pushes
			// it: newer than anything its earlier events said, which is
			// all this hub applied of it (ApplyPush skips an event at or
			// before the cursor).
			insert = upsertFederatedSQL
		}
		out = append(out, Stmt{SQL: insert, Args: federatedArgs(v)})
		if e.Kind == exchange.EventRevised {
			out = append(out, Stmt{SQL: `UPDATE federated_certificates SET state = 'superseded', superseded_by = $1, updated_at = $2
				WHERE lineage = $3 AND version < $4 AND state <> 'superseded'`, Args: []any{v.ID, e.At, v.Lineage, v.Version}})
		}
	}
	if st, ok := stateAfter[e.Kind]; ok {
		reason := e.Reason
		if st == certificates.StateValid {
			reason = ""
		}
		out = append(out, Stmt{SQL: `UPDATE federated_certificates SET state = $1, state_reason = $2, updated_at = $3
			WHERE id = $4 AND home_hub = $5`, Args: []any{string(st), reason, e.At, e.CertificateID, e.HomeHub}})
	}
	return append(out, Stmt{SQL: insertFederatedEventSQL, Args: federatedEventArgs(e)})
}

// ApplyBackfill implements federation.AggregationStore. On PostgreSQL the
// versions are streamed by COPY into a staging table and kept, with their
// events, by one statement; elsewhere one at a time.
//
// correctBackfilled: a version held here takes the state the page carries
// while this hub's cursor for the child is not past the page's mark. Why
// that never puts back an older state: the child scans its registry only
// once the events up to its mark have settled, so a page's states hold
// every change of those events. What this hub holds of a version is what
// the child's events up to this hub's cursor said, and what pages said
// (each also read after its backfill's mark). With the cursor at or
// before the mark, the page is at least as new as all of it. A page read
// earlier than another (a replica that lost its lease, a round started
// over while a page was on its way) may be applied after it; that only
// loses a change committed between the two reads, which is an event after
// the mark, and every event after the mark is pushed again once the
// backfill is done (the last page moves the cursor to the mark and never
// further). The cursor is past the mark only when this hub applied events
// after it, which the page may not know of (a page sent once more, or by a
// replica that lost its lease, after the backfill was done and its events
// pushed): then a held version is left as it is.
func (s *Store) ApplyBackfill(ctx context.Context, hub string, after int64, versions []federation.Change, types []*exchange.FederatedType,
	mark, through int64, at time.Time) (int64, int, error) {
	s.copies.seen.Store(true) // lookups here read copies from now on
	var cursor int64
	kept := 0
	typeStmts, err := federatedTypeStmts(types)
	if err != nil {
		return 0, 0, err
	}
	err = s.db.InTx(ctx, func(q Querier) error {
		var err error
		if cursor, err = lockInbox(ctx, q, hub, after, at); err != nil {
			return err
		}
		if err := execStmts(ctx, q, typeStmts); err != nil {
			return err
		}
		onHeld := keepHeld
		if cursor <= mark {
			onHeld = correctHeld
		}
		if cp, ok := q.(Copier); ok && len(versions) > 0 {
			kept, err = copyBackfill(ctx, q, cp, versions, onHeld)
		} else {
			insert := `INSERT INTO federated_certificates (` + federatedColumns + `)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) ` + onHeld
			for _, ch := range versions {
				n, err := q.Exec(ctx, insert, federatedArgs(ch.Version)...)
				if err != nil {
					return err
				}
				if n == 1 {
					if _, err := q.Exec(ctx, insertFederatedEventSQL, federatedEventArgs(ch.Event)...); err != nil {
						return err
					}
					kept++
				}
			}
		}
		if err != nil {
			return err
		}
		if through > cursor {
			cursor = through
			_, err = q.Exec(ctx, `UPDATE federation_inbox SET seq = $2 WHERE hub_id = $1`, hub, cursor)
		}
		return err
	})
	return cursor, kept, err
}

// copyBackfill keeps the versions not here yet (and corrects those held,
// as onHeld says) and writes an event for each it kept or corrected: COPY
// into a staging table dropped at commit, then one insert of both.
func copyBackfill(ctx context.Context, q Querier, cp Copier, versions []federation.Change, onHeld string) (int, error) {
	if _, err := q.Exec(ctx, `CREATE TEMP TABLE federated_staging ON COMMIT DROP AS
		SELECT `+federatedColumns+`, ''::text AS event_id, now() AS event_at FROM federated_certificates WITH NO DATA`); err != nil {
		return 0, err
	}
	cols := strings.Split(strings.Join(strings.Fields(federatedColumns), ""), ",")
	cols = append(cols, "event_id", "event_at")
	rows := make([][]any, len(versions))
	for i, ch := range versions {
		v := ch.Version
		rows[i] = []any{v.ID, v.HomeHub, v.Lineage, v.Type, v.Authority, int32(v.Version), string(v.HolderKind), v.HolderIndex, v.HolderSealed,
			v.HolderName, copyDate(v.ValidFrom), copyDate(v.ValidUntil), string(v.State), v.StateReason, nullString(v.SupersededBy), v.DocumentKey,
			v.DocumentOffset, v.DocumentLength, v.DocumentSHA256, v.KID, v.IssuedAt, v.UpdatedAt, ch.Event.ID, ch.Event.At}
	}
	if err := cp.CopyInto(ctx, "federated_staging", cols, rows); err != nil {
		return 0, err
	}
	// RETURNING names the rows inserted and the rows updated, not those
	// the conflict clause left alone.
	n, err := q.Exec(ctx, `WITH kept AS (
			INSERT INTO federated_certificates (`+federatedColumns+`)
			SELECT `+federatedColumns+` FROM federated_staging ORDER BY id
			`+onHeld+` RETURNING id)
		INSERT INTO events (id, kind, certificate_id, lineage, type_code, authority, version, reason, at, home_hub)
		SELECT s.event_id, '`+exchange.EventBackfilled+`', s.id, s.lineage, s.type_code, s.authority, s.version, s.state_reason, s.event_at, s.home_hub
		FROM federated_staging s JOIN kept USING (id) ORDER BY s.id`)
	return int(n), err
}

const backfillColumns = `round, reason, events_mark, marked_at, own_after, copies_after, done_at`

func scanBackfill(r Row) (*federation.Backfill, error) {
	b := &federation.Backfill{}
	var done *time.Time
	err := r.Scan(&b.Round, &b.Reason, &b.EventsMark, Time{&b.MarkedAt}, &b.OwnAfter, &b.CopiesAfter, NullTime{&done})
	b.Done = done != nil
	return b, err
}

// StartBackfill implements federation.AggregationStore.
func (s *Store) StartBackfill(ctx context.Context, at time.Time) (*federation.Backfill, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO aggregation_backfill (name, events_mark, marked_at)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) FROM events), $2) ON CONFLICT (name) DO NOTHING`, aggregationCursor, at); err != nil {
		return nil, err
	}
	return s.Backfill(ctx)
}

// RestartBackfill implements federation.AggregationStore.
func (s *Store) RestartBackfill(ctx context.Context, at time.Time, reason string) (*federation.Backfill, error) {
	if _, err := s.db.Exec(ctx, `INSERT INTO aggregation_backfill (name, events_mark, marked_at, reason)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) FROM events), $2, $3)
		ON CONFLICT (name) DO UPDATE SET round = aggregation_backfill.round + 1, reason = excluded.reason,
			events_mark = excluded.events_mark, marked_at = excluded.marked_at, own_after = 0, copies_after = '', done_at = NULL`,
		aggregationCursor, at, reason); err != nil {
		return nil, err
	}
	return s.Backfill(ctx)
}

// Backfill implements federation.AggregationStore.
func (s *Store) Backfill(ctx context.Context) (*federation.Backfill, error) {
	b, err := scanBackfill(s.db.QueryRow(ctx, `SELECT `+backfillColumns+` FROM aggregation_backfill WHERE name = $1`, aggregationCursor))
	if err != nil {
		return nil, notFound(err, "the backfill has not begun")
	}
	return b, nil
}

// MoveBackfill implements federation.AggregationStore.
func (s *Store) MoveBackfill(ctx context.Context, owner string, b *federation.Backfill) error {
	var done any
	if b.Done {
		done = time.Now().UTC()
	}
	n, err := s.db.Exec(ctx, `UPDATE aggregation_backfill SET own_after = $2, copies_after = $3, done_at = $4
		WHERE name = $1 AND round = $6 AND EXISTS (SELECT 1 FROM event_cursor WHERE name = $1 AND lease_owner = $5)`,
		aggregationCursor, b.OwnAfter, b.CopiesAfter, done, owner, b.Round)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.Conflict, "the push lease was lost, or the backfill started over; the next push goes on from where it stands")
	}
	return nil
}

// PrunedThrough implements federation.AggregationStore.
func (s *Store) PrunedThrough(ctx context.Context) (int64, error) {
	var seq int64
	err := s.db.QueryRow(ctx, `SELECT seq FROM events_pruned`).Scan(&seq)
	return seq, err
}

// OwnVersionsAfter implements federation.AggregationStore. It reads only
// what a push carries, through the unique index on seq.
func (s *Store) OwnVersionsAfter(ctx context.Context, after int64, limit int) ([]*federation.Version, []int64, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, id, lineage, type_code, authority, version, valid_from, valid_until, state, state_reason,
		superseded_by, document_key, document_offset, document_length, document_sha256, kid, issued_at, updated_at
		FROM certificates WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out, seqs := make([]*federation.Version, 0, limit), make([]int64, 0, limit)
	for rows.Next() {
		v := &federation.Version{}
		var seq int64
		var state string
		var superseded *string
		if err := rows.Scan(&seq, &v.ID, &v.Lineage, &v.Type, &v.Authority, &v.Version, &v.ValidFrom, &v.ValidUntil, &state, &v.StateReason,
			&superseded, &v.DocumentKey, &v.DocumentOffset, &v.DocumentLength, &v.DocumentSHA256, &v.KID, Time{&v.IssuedAt}, Time{&v.UpdatedAt}); err != nil {
			return nil, nil, err
		}
		v.State = certificates.State(state)
		if superseded != nil {
			v.SupersededBy = *superseded
		}
		out, seqs = append(out, v), append(seqs, seq)
	}
	return out, seqs, rows.Err()
}

// CopiesAfter implements federation.AggregationStore.
func (s *Store) CopiesAfter(ctx context.Context, after string, limit int) ([]*federation.Version, error) {
	return list(ctx, s.db, scanFederated, `SELECT `+federatedColumns+` FROM federated_certificates WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}
