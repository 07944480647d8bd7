package sqlstore

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// NextSerial implements certificates.Store.
func (s *Store) NextSerial(ctx context.Context, typeCode, issuer string) (int64, error) {
	return s.NextSerials(ctx, typeCode, issuer, 1)
}

// NextSerials implements certificates.Store.
func (s *Store) NextSerials(ctx context.Context, typeCode, issuer string, n int) (int64, error) {
	var first int64
	err := s.db.QueryRow(ctx, `INSERT INTO serials (type_code, authority, next) VALUES ($1, $2, $3 + 1)
		ON CONFLICT (type_code, authority) DO UPDATE SET next = serials.next + $3
		RETURNING next - $3`, typeCode, issuer, n).Scan(&first)
	return first, err
}

// InsertCertificates implements certificates.Store. Where the adapter can
// pipeline (PostgreSQL), the whole batch goes in one round trip.
func (s *Store) InsertCertificates(ctx context.Context, cs []*certificates.Certificate) error {
	return s.db.InTx(ctx, func(q Querier) error {
		if cp, ok := q.(Copier); ok {
			return copyCertificates(ctx, cp, cs)
		}
		b, ok := q.(Batcher)
		if !ok {
			for _, c := range cs {
				if err := insertCertificate(ctx, q, c); err != nil {
					return err
				}
			}
			return nil
		}
		stmts := make([]Stmt, 0, 2*len(cs))
		for _, c := range cs {
			args, err := certificateArgs(c)
			if err != nil {
				return err
			}
			stmts = append(stmts, Stmt{SQL: insertCertificateSQL, Args: args}, Stmt{SQL: insertEventSQL, Args: eventArgs(c, issuedKind(c), "", c.UpdatedAt)})
			if o := c.Origin; o != nil {
				stmts = append(stmts, Stmt{SQL: putOriginSQL, Args: []any{o.Connector, o.SourceKey, c.Ident.Lineage(), c.ID, o.ContentHash, o.SourceStatus, c.UpdatedAt}})
			}
		}
		return conflict(b.ExecBatch(ctx, stmts), "a certificate of the batch already exists")
	})
}

// copyCertificates streams first versions and their origins with COPY.
// Origins of a bulk issuance are new keys (the caller looked them up), so a
// plain insert is right; a clash aborts the whole transaction.
func copyCertificates(ctx context.Context, cp Copier, cs []*certificates.Certificate) error {
	cols := []string{"id", "lineage", "type_code", "authority", "serial", "version", "holder_kind", "holder_index", "holder_sealed",
		"holder_name", "data", "valid_from", "valid_until", "state", "state_reason", "superseded_by", "document_key", "document_sha256",
		"kid", "issued_at", "updated_at", "document_offset", "document_length", "status_list", "status_index"}
	rows := make([][]any, 0, len(cs))
	events := make([][]any, 0, len(cs))
	var origins [][]any
	date := copyDate
	for _, c := range cs {
		data, err := json.Marshal(c.Data)
		if err != nil {
			return errs.Wrap(err, "encode data")
		}
		rows = append(rows, []any{c.ID, c.Ident.Lineage(), c.Type, c.Authority, c.Serial, int32(c.Version), string(c.Holder.Kind),
			c.HolderIndex, c.HolderSealed, c.Holder.Name, string(data), date(c.ValidFrom), date(c.ValidUntil), string(c.State),
			c.StateReason, nullString(c.SupersededBy), c.DocumentKey, c.DocumentSHA256, c.KID, c.IssuedAt, c.UpdatedAt,
			c.DocumentOffset, c.DocumentLength, statusList(c), statusIndex(c)})
		events = append(events, eventArgs(c, issuedKind(c), "", c.UpdatedAt))
		if o := c.Origin; o != nil {
			origins = append(origins, []any{o.Connector, o.SourceKey, c.Ident.Lineage(), c.ID, o.ContentHash, o.SourceStatus, c.UpdatedAt})
		}
	}
	if err := cp.CopyInto(ctx, "certificates", cols, rows); err != nil {
		return conflict(err, "a certificate of the batch already exists")
	}
	if err := cp.CopyInto(ctx, "events", eventColumns, events); err != nil {
		return err
	}
	if len(origins) == 0 {
		return nil
	}
	err := cp.CopyInto(ctx, "certificate_origins", []string{"connector", "source_key", "lineage", "certificate_id", "content_hash",
		"source_status", "updated_at"}, origins)
	return conflict(err, "a source record of the batch is already known")
}

// copyDate is a date as COPY takes it.
func copyDate(d certificates.Date) any {
	if d.IsZero() {
		return nil
	}
	return d.Start(time.UTC)
}

// GetOrigins implements certificates.Store.
func (s *Store) GetOrigins(ctx context.Context, connector string, keys []string) (map[string]*certificates.OriginRecord, error) {
	out := make(map[string]*certificates.OriginRecord, len(keys))
	scan := func(rows Rows) error {
		defer rows.Close()
		for rows.Next() {
			o := &certificates.OriginRecord{}
			if err := rows.Scan(&o.Connector, &o.SourceKey, &o.Lineage, &o.CertificateID, &o.ContentHash, &o.SourceStatus, Time{&o.UpdatedAt}); err != nil {
				return err
			}
			out[o.SourceKey] = o
		}
		return rows.Err()
	}
	if _, ok := s.db.(ArrayParams); ok {
		// One probe of the primary key per key, whatever the planner
		// believes of the table: during a backfill it grows from empty
		// faster than it is analyzed, and with an IN list (or = ANY) the
		// plan for "a small table" read every origin of the connector and
		// filtered, each batch longer than the last (140 ms a 500-key
		// list at 200,000 origins; this form, 4 ms for 2,000 keys). The
		// LIMIT keeps the subquery from being flattened into a join.
		rows, err := s.db.Query(ctx, `SELECT o.connector, o.source_key, o.lineage, o.certificate_id, o.content_hash, o.source_status, o.updated_at
			FROM unnest($2::text[]) AS k(source_key)
			CROSS JOIN LATERAL (SELECT * FROM certificate_origins
				WHERE connector = $1 AND source_key = k.source_key LIMIT 1) AS o`, connector, keys)
		if err != nil {
			return nil, err
		}
		if err := scan(rows); err != nil {
			return nil, err
		}
		return out, nil
	}
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		args := []any{FreshPlan, connector}
		ph := make([]string, len(chunk))
		for i, k := range chunk {
			args = append(args, k)
			ph[i] = "$" + strconv.Itoa(i+2)
		}
		rows, err := s.db.Query(ctx, `SELECT connector, source_key, lineage, certificate_id, content_hash, source_status, updated_at
			FROM certificate_origins WHERE connector = $1 AND source_key IN (`+strings.Join(ph, ", ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		if err := scan(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const certColumns = `seq, id, type_code, authority, serial, version, holder_kind, holder_index, holder_sealed, holder_name,
	data, valid_from, valid_until, state, state_reason, superseded_by, document_key, document_sha256, kid, issued_at, updated_at,
	document_offset, document_length, status_list, status_index`

const insertCertificateSQL = `INSERT INTO certificates (id, lineage, type_code, authority, serial, version,
		holder_kind, holder_index, holder_sealed, holder_name, data, valid_from, valid_until,
		state, state_reason, superseded_by, document_key, document_sha256, kid, issued_at, updated_at, document_offset, document_length,
		status_list, status_index)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`

func certificateArgs(c *certificates.Certificate) ([]any, error) {
	data, err := json.Marshal(c.Data)
	if err != nil {
		return nil, errs.Wrap(err, "encode data")
	}
	return []any{c.ID, c.Ident.Lineage(), c.Type, c.Authority, c.Serial, c.Version,
		string(c.Holder.Kind), c.HolderIndex, c.HolderSealed, c.Holder.Name, string(data), c.ValidFrom, c.ValidUntil,
		string(c.State), c.StateReason, nullString(c.SupersededBy), c.DocumentKey, c.DocumentSHA256, c.KID, c.IssuedAt, c.UpdatedAt,
		c.DocumentOffset, c.DocumentLength, statusList(c), statusIndex(c)}, nil
}

func insertCertificate(ctx context.Context, q Querier, c *certificates.Certificate) error {
	args, err := certificateArgs(c)
	if err != nil {
		return err
	}
	err = q.QueryRow(ctx, insertCertificateSQL+` RETURNING seq`, args...).Scan(&c.Seq)
	if err != nil {
		return conflict(err, "certificate %s already exists", c.ID)
	}
	if _, err := q.Exec(ctx, insertEventSQL, eventArgs(c, issuedKind(c), "", c.UpdatedAt)...); err != nil {
		return err
	}
	return putOrigin(ctx, q, c.Origin, c.Ident.Lineage(), c.ID, c.UpdatedAt)
}

// The outbox: every change to a certificate writes its event in the same
// transaction, so a crash never loses one (see exchange.Webhooks).
const insertEventSQL = `INSERT INTO events (id, kind, certificate_id, lineage, type_code, authority, version, reason, at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

var eventColumns = []string{"id", "kind", "certificate_id", "lineage", "type_code", "authority", "version", "reason", "at"}

func eventArgs(c *certificates.Certificate, kind, reason string, at time.Time) []any {
	return []any{exchange.NewID("evt_"), kind, c.ID, c.Ident.Lineage(), c.Type, c.Authority, int32(c.Version), reason, at}
}

func issuedKind(c *certificates.Certificate) string {
	if c.Version > 1 {
		return exchange.EventRevised
	}
	return exchange.EventIssued
}

// putOrigin records (or moves forward) a connector record's origin.
func putOrigin(ctx context.Context, q Querier, o *certificates.Origin, lineage, certID string, at time.Time) error {
	if o == nil {
		return nil
	}
	_, err := q.Exec(ctx, putOriginSQL, o.Connector, o.SourceKey, lineage, certID, o.ContentHash, o.SourceStatus, at)
	return err
}

const putOriginSQL = `INSERT INTO certificate_origins (connector, source_key, lineage, certificate_id, content_hash, source_status, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (connector, source_key) DO UPDATE SET lineage = excluded.lineage, certificate_id = excluded.certificate_id,
			content_hash = excluded.content_hash, source_status = excluded.source_status, updated_at = excluded.updated_at`

// GetOrigin implements certificates.Store.
func (s *Store) GetOrigin(ctx context.Context, connector, sourceKey string) (*certificates.OriginRecord, error) {
	o := &certificates.OriginRecord{}
	err := s.db.QueryRow(ctx, `SELECT connector, source_key, lineage, certificate_id, content_hash, source_status, updated_at
		FROM certificate_origins WHERE connector = $1 AND source_key = $2`, connector, sourceKey).
		Scan(&o.Connector, &o.SourceKey, &o.Lineage, &o.CertificateID, &o.ContentHash, &o.SourceStatus, Time{&o.UpdatedAt})
	if err != nil {
		return nil, notFound(err, "connector %s has no record %s", connector, sourceKey)
	}
	return o, nil
}

// InsertCertificate implements certificates.Store.
func (s *Store) InsertCertificate(ctx context.Context, c *certificates.Certificate, idem *certificates.Idempotency) error {
	return s.db.InTx(ctx, func(q Querier) error {
		if err := insertCertificate(ctx, q, c); err != nil || idem == nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO idempotency_keys (principal, key, request_hash, certificate_id, created_at)
			VALUES ($1, $2, $3, $4, $5)`, idem.Principal, idem.Key, idem.RequestHash, idem.CertificateID, idem.CreatedAt)
		return conflict(err, "Idempotency-Key %q is already in use", idem.Key)
	})
}

// Supersede implements certificates.Store.
func (s *Store) Supersede(ctx context.Context, prevID string, next *certificates.Certificate) error {
	return s.db.InTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE certificates SET state = 'superseded', superseded_by = $2, updated_at = $3
			WHERE id = $1 AND state IN ('valid', 'suspended')`, prevID, next.ID, next.IssuedAt)
		if err != nil {
			return err
		}
		if n != 1 {
			return errs.E(errs.Conflict, "certificate %s is no longer current; it was changed meanwhile", prevID)
		}
		return insertCertificate(ctx, q, next)
	})
}

// SetState implements certificates.Store.
func (s *Store) SetState(ctx context.Context, id string, from []certificates.State, to certificates.State, reason string, at time.Time, origin *certificates.Origin) (*certificates.Certificate, error) {
	var out *certificates.Certificate
	err := s.db.InTx(ctx, func(q Querier) error {
		args := []any{id, string(to), reason, at}
		ph := make([]string, len(from))
		for i, st := range from {
			args = append(args, string(st))
			ph[i] = "$" + strconv.Itoa(len(args))
		}
		n, err := q.Exec(ctx, `UPDATE certificates SET state = $2, state_reason = $3, updated_at = $4
			WHERE id = $1 AND state IN (`+strings.Join(ph, ", ")+`)`, args...)
		if err != nil {
			return err
		}
		c, err := scanCertificate(q.QueryRow(ctx, `SELECT `+certColumns+` FROM certificates WHERE id = $1`, id))
		if err != nil {
			return notFound(err, "certificate %s does not exist", id)
		}
		if n != 1 {
			return errs.E(errs.Conflict, "certificate %s is %s", id, c.State)
		}
		var lineage string
		if err := q.QueryRow(ctx, `SELECT lineage FROM certificates WHERE id = $1`, id).Scan(&lineage); err != nil {
			return err
		}
		kind := map[certificates.State]string{certificates.StateSuspended: exchange.EventSuspended, certificates.StateRevoked: exchange.EventRevoked,
			certificates.StateValid: exchange.EventReinstated}[to]
		ev := eventArgs(c, kind, reason, at)
		ev[3] = lineage
		if _, err := q.Exec(ctx, insertEventSQL, ev...); err != nil {
			return err
		}
		if origin != nil {
			if err := putOrigin(ctx, q, origin, lineage, c.ID, at); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, err
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func scanCertificate(r Row) (*certificates.Certificate, error) {
	c := &certificates.Certificate{}
	var kind, state, data string
	var superseded *string
	var list, index *int64
	err := r.Scan(&c.Seq, &c.ID, &c.Type, &c.Authority, &c.Serial, &c.Version, &kind, &c.HolderIndex, &c.HolderSealed, &c.Holder.Name,
		&data, &c.ValidFrom, &c.ValidUntil, &state, &c.StateReason, &superseded, &c.DocumentKey, &c.DocumentSHA256, &c.KID,
		Time{&c.IssuedAt}, Time{&c.UpdatedAt}, &c.DocumentOffset, &c.DocumentLength, &list, &index)
	if err != nil {
		return nil, err
	}
	if list != nil && index != nil {
		c.Status = &certificates.StatusRef{List: int(*list), Index: int(*index)}
	}
	c.Holder.Kind, c.State = certificates.HolderKind(kind), certificates.State(state)
	if superseded != nil {
		c.SupersededBy = *superseded
	}
	d := json.NewDecoder(strings.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&c.Data); err != nil {
		return nil, errs.Wrap(err, "decode data of %s", c.ID)
	}
	return c, nil
}

// GetCertificate implements certificates.Store.
func (s *Store) GetCertificate(ctx context.Context, id string) (*certificates.Certificate, error) {
	c, err := scanCertificate(s.db.QueryRow(ctx, `SELECT `+certColumns+` FROM certificates WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "certificate %s does not exist", id)
	}
	return c, nil
}

// FindCertificates implements certificates.Store.
func (s *Store) FindCertificates(ctx context.Context, qu certificates.Query) ([]*certificates.Certificate, int64, error) {
	db := s.read(ctx)
	query, args := findCertificatesQuery(db, qu)
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := make([]*certificates.Certificate, 0, qu.Limit)
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > qu.Limit {
		out = out[:qu.Limit]
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// findCertificatesQuery is FindCertificates' query and its arguments. On
// PostgreSQL a holder is found through the index on a 64-bit hash of the
// holder key (migration 0033), the key itself keeping only exact matches.
func findCertificatesQuery(q Querier, qu certificates.Query) (string, []any) {
	var where []string
	args := []any{qu.After}
	where = append(where, "seq > $1")
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if qu.HolderIndex != "" {
		add(keyEquals(q, "holder_index", "?"), qu.HolderIndex)
	}
	if qu.Type != "" {
		add("type_code = ?", qu.Type)
	}
	if len(qu.Types) > 0 {
		for _, t := range qu.Types {
			args = append(args, t)
		}
		where = append(where, "type_code IN ("+placeholders(len(args)-len(qu.Types)+1, len(qu.Types))+")")
	}
	if qu.Authority != "" {
		add("authority = ?", qu.Authority)
	}
	switch qu.Status {
	case "":
		where = append(where, "state <> 'superseded'")
	case certificates.StatusValid:
		add("state = 'valid' AND (valid_until IS NULL OR valid_until >= ?)", qu.Today)
	case certificates.StatusSuspended:
		add("state = 'suspended' AND (valid_until IS NULL OR valid_until >= ?)", qu.Today)
	case certificates.StatusExpired:
		add("state IN ('valid', 'suspended') AND valid_until < ?", qu.Today)
	case certificates.StatusRevoked:
		where = append(where, "state = 'revoked'")
	case certificates.StatusSuperseded:
		where = append(where, "state = 'superseded'")
	}
	args = append(args, qu.Limit+1)
	return `SELECT ` + certColumns + ` FROM certificates WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY seq LIMIT $` + strconv.Itoa(len(args)), args
}

// DocumentRefs implements certificates.Store. It reads only the location
// columns, through the unique index on seq.
func (s *Store) DocumentRefs(ctx context.Context, after int64, limit int) ([]certificates.DocumentRef, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, id, document_key, document_offset, document_length, document_sha256
		FROM certificates WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]certificates.DocumentRef, 0, limit)
	for rows.Next() {
		var r certificates.DocumentRef
		if err := rows.Scan(&r.Seq, &r.ID, &r.Key, &r.Offset, &r.Length, &r.SHA256); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetDocumentLocation implements certificates.Store. updated_at is left
// alone: the certificate did not change, only where its bytes are read.
func (s *Store) SetDocumentLocation(ctx context.Context, ref certificates.DocumentRef) error {
	n, err := s.db.Exec(ctx, `UPDATE certificates SET document_key = $2, document_offset = $3, document_length = $4
		WHERE id = $1 AND document_sha256 = $5`, ref.ID, ref.Key, ref.Offset, ref.Length, ref.SHA256)
	if err != nil {
		return err
	}
	if n != 1 {
		return errs.E(errs.NotFound, "certificate %s with document SHA-256 %s does not exist", ref.ID, ref.SHA256)
	}
	return nil
}

// GetIdempotency implements certificates.Store.
func (s *Store) GetIdempotency(ctx context.Context, principal, key string) (*certificates.Idempotency, error) {
	r := &certificates.Idempotency{Principal: principal, Key: key}
	err := s.db.QueryRow(ctx, `SELECT request_hash, certificate_id, created_at FROM idempotency_keys WHERE principal = $1 AND key = $2`,
		principal, key).Scan(&r.RequestHash, &r.CertificateID, Time{&r.CreatedAt})
	if err != nil {
		return nil, notFound(err, "no request with this Idempotency-Key")
	}
	return r, nil
}
