package connectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Engine applies, runs and inspects connectors.
type Engine struct {
	Store Store
	Certs *certificates.Service
	Kinds Kinds
	Now   func() time.Time
	Log   *slog.Logger
	// Owner names this process in leases (host and pid).
	Owner string
	// OnRun, if set, hears about every finished run (metrics).
	OnRun func(*Run)
	// Ledger records the certificates connectors issue and change.
	Ledger *exchange.Ledger
	// LeaseFor is how long a run may go without renewing its lease (it
	// renews before every batch); a crashed run's connector is free again
	// after it. Default 2 minutes.
	LeaseFor time.Duration
}

func (e *Engine) leaseFor() time.Duration {
	if e.LeaseFor > 0 {
		return e.LeaseFor
	}
	return 2 * time.Minute
}

type typeLookup struct {
	ctx context.Context
	e   *Engine
}

func (l typeLookup) Type(code string) (*certificates.Type, error) { return l.e.Certs.Type(l.ctx, code) }
func (l typeLookup) AuthorityExists(code string) bool {
	_, err := l.e.Certs.Authority(l.ctx, code)
	return err == nil
}

// Apply validates a definition (YAML or JSON) against its type and kind and
// saves it; nothing is saved if anything is wrong.
func (e *Engine) Apply(ctx context.Context, raw []byte) (*Definition, bool, error) {
	d, err := Parse(raw)
	if err != nil {
		return nil, false, err
	}
	if err := d.Validate(e.Kinds, typeLookup{ctx, e}); err != nil {
		return nil, false, err
	}
	canon, _ := json.Marshal(d)
	created, err := e.Store.SaveConnector(ctx, d.Name, d.Kind, canon, e.now())
	return d, created, err
}

func (e *Engine) now() time.Time { return e.Now().UTC().Truncate(time.Microsecond) }

// Get returns a connector's definition and state.
func (e *Engine) Get(ctx context.Context, name string) (*Definition, *Connector, error) {
	raw, c, err := e.Store.GetConnector(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	var d Definition
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, nil, errs.Wrap(err, "stored definition of %s", name)
	}
	c.Definition = &d
	return &d, c, nil
}

// Progress hears about a run after every batch.
type Progress func(r *Run, total int64)

// Run pulls from the connector's source until it has nothing more now.
func (e *Engine) Run(ctx context.Context, name string, progress Progress) (*Run, error) {
	d, c, err := e.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if c.Paused {
		return nil, errs.E(errs.Conflict, "connector %s is paused; resume it first", name)
	}
	if err := e.Store.Lease(ctx, name, e.Owner, e.now(), e.now().Add(e.leaseFor())); err != nil {
		return nil, err
	}
	run := &Run{ID: fmt.Sprintf("run_%d", e.now().UnixNano()), Connector: name, StartedAt: e.now(), Status: "running",
		CursorFrom: c.Cursor, CursorTo: c.Cursor}
	if err := e.Store.StartRun(ctx, run); err != nil {
		_ = e.Store.Release(ctx, name, e.Owner, true, err.Error(), nil)
		return nil, err
	}
	runErr := e.pull(ctx, d, c.Cursor, run, progress)
	status, text := "succeeded", ""
	if runErr != nil {
		status, text = "failed", runErr.Error()
	}
	run.Status, run.Error = status, text
	fin := e.now()
	run.FinishedAt = &fin
	// The outcome is recorded even if the caller's context is done.
	bg := context.WithoutCancel(ctx)
	if err := e.Store.FinishRun(bg, run.ID, status, text, fin); err != nil && runErr == nil {
		runErr = err
	}
	var next *time.Time
	if n, ok := d.Schedule.Next(fin, e.Certs.Location); ok {
		if runErr != nil {
			n = fin.Add(backoff(c.Failures + 1))
		}
		next = &n
	}
	if err := e.Store.Release(bg, name, e.Owner, runErr != nil, text, next); err != nil && runErr == nil {
		runErr = err
	}
	if err := e.recordRun(bg, run); err != nil && runErr == nil {
		runErr = err
	}
	if e.OnRun != nil {
		e.OnRun(run)
	}
	e.Log.InfoContext(ctx, "connector run", "connector", name, "status", status, "seen", run.Seen, "issued", run.Issued,
		"revised", run.Revised, "lifecycle", run.Lifecycle, "unchanged", run.Unchanged, "quarantined", run.Quarantined, "error", text)
	return run, runErr
}

// backoff is the wait after n consecutive failures: 1 min doubling to 6 h.
func backoff(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// pull reads the source a batch at a time and applies each batch. It works
// on two batches at once: while one commits (its rows, origins, ledger
// entry and the saved cursor, in source order), the next is read, mapped
// and, for its new keys, sealed and written to the object store. The next
// batch looks its keys up only after the committing one is done whenever
// it holds one of that batch's new keys, so a key is never issued twice. A
// source whose batches must be acknowledged (Batch.Commit) is read a batch
// at a time. The saved cursor never passes a batch that is not committed.
func (e *Engine) pull(ctx context.Context, d *Definition, cursor string, run *Run, progress Progress) error {
	kind, ok := e.Kinds[d.Kind]
	if !ok {
		return errs.E(errs.Invalid, "connector %s has unknown kind %q", d.Name, d.Kind)
	}
	src, err := kind.Open(ctx, d.Source)
	if err != nil {
		return err
	}
	if c, ok := src.(interface{ Close() error }); ok {
		defer c.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *inflight) // unbuffered: one batch staged ahead at most
	committed := make(chan error, 1)
	go func() {
		var err error
		for f := range queue {
			if err == nil {
				err = e.commitBatch(ctx, d, run, f, progress)
				if err != nil {
					cancel()
				}
			}
			close(f.done)
		}
		committed <- err
	}()
	stageErr := func() error {
		var prev *inflight
		for {
			if prev != nil && prev.batch.Commit != nil {
				<-prev.done
			}
			if err := e.Store.Lease(ctx, d.Name, e.Owner, e.now(), e.now().Add(e.leaseFor())); err != nil {
				return err
			}
			f := &inflight{started: time.Now(), done: make(chan struct{})}
			b, err := src.Fetch(ctx, cursor, d.BatchSize)
			if err != nil {
				return d.sourceError(err)
			}
			f.batch, f.fetched = b, time.Now()
			// Wait for the batch being committed if this one holds a key it
			// issues: the origin lookup must see it.
			wait := func(keys []string) {
				if prev == nil {
					return
				}
				for _, k := range keys {
					if prev.staged.newKeys[k] {
						<-prev.done
						return
					}
				}
			}
			if f.staged, err = e.stage(ctx, d, b.Records, wait); err != nil {
				return err
			}
			f.prepared = time.Now()
			select {
			case queue <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !b.More {
				return nil
			}
			cursor, prev = b.Cursor, f
		}
	}()
	close(queue)
	// A failed commit cancels the staging, whose error is then only the
	// cancellation: the commit's error is the run's.
	if err := <-committed; err != nil {
		return err
	}
	return stageErr
}

// inflight is a batch between its read and its commit.
type inflight struct {
	batch                      *Batch
	staged                     *staged
	started, fetched, prepared time.Time
	done                       chan struct{} // closed when committed or abandoned
}

// commitBatch applies a staged batch and saves the cursor after it.
func (e *Engine) commitBatch(ctx context.Context, d *Definition, run *Run, f *inflight, progress Progress) error {
	t0 := time.Now()
	b := f.batch
	counts, err := e.apply(ctx, d, f.staged)
	if err != nil {
		return err
	}
	t1 := time.Now()
	if !b.Latest.IsZero() {
		run.LagSeconds = max(0, e.Now().Sub(b.Latest).Seconds())
	}
	if err := e.Store.FinishBatch(ctx, d.Name, run.ID, b.Cursor, counts, run.LagSeconds); err != nil {
		return err
	}
	e.Log.DebugContext(ctx, "connector batch", "connector", d.Name, "records", len(b.Records),
		"fetch", f.fetched.Sub(f.started), "stage", f.prepared.Sub(f.fetched), "queued", t0.Sub(f.prepared),
		"apply", t1.Sub(t0), "finish", time.Since(t1))
	if b.Commit != nil {
		if err := b.Commit(ctx); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	run.CursorTo = b.Cursor
	run.Counts.add(counts)
	if progress != nil {
		progress(run, b.Total)
	}
	return nil
}

// sourceError fails a run for its source, naming the record whose change
// time could not be read by its key.
func (d *Definition) sourceError(err error) error {
	var ce *CursorError
	if errors.As(err, &ce) && ce.Key == "" {
		if k, ok := d.keyOf(ce.Record); ok {
			ce.Key = k
		}
	}
	return fmt.Errorf("source: %w", err)
}

// Push processes records a department sends (the push-in API), with the
// same mapping and semantics as a pull, recorded as a run.
func (e *Engine) Push(ctx context.Context, name string, records []Record) (*Run, error) {
	d, _, err := e.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	run := &Run{ID: fmt.Sprintf("%s%d", PushedRunPrefix, e.now().UnixNano()), Connector: name, StartedAt: e.now(), Status: "running", Pushed: true}
	if err := e.Store.StartRun(ctx, run); err != nil {
		return nil, err
	}
	counts, err := e.process(ctx, d, records)
	status, text := "succeeded", ""
	if err != nil {
		status, text = "failed", err.Error()
	} else if err = e.Store.FinishBatch(ctx, name, run.ID, "", counts, 0); err != nil {
		status, text = "failed", err.Error()
	}
	run.Counts, run.Status, run.Error = counts, status, text
	fin := e.now()
	run.FinishedAt = &fin
	_ = e.Store.FinishRun(context.WithoutCancel(ctx), run.ID, status, text, fin)
	if rerr := e.recordRun(context.WithoutCancel(ctx), run); rerr != nil && err == nil {
		err = rerr
	}
	if e.OnRun != nil {
		e.OnRun(run)
	}
	return run, err
}

// recordRun puts a finished run in the audit ledger, with its counts.
func (e *Engine) recordRun(ctx context.Context, run *Run) error {
	outcome := fmt.Sprintf("%s: %s, seen %d, issued %d, revised %d, lifecycle %d, unchanged %d, quarantined %d", run.Status, run.ID,
		run.Seen, run.Issued, run.Revised, run.Lifecycle, run.Unchanged, run.Quarantined)
	if run.Error != "" {
		outcome += ": " + run.Error
	}
	return e.Ledger.Record(ctx, exchange.AuditEntry{Actor: "connector:" + run.Connector, Action: "connector_run", Outcome: outcome})
}

// process maps and applies a batch. A record that cannot be accepted is
// quarantined; only a failure of the hub itself stops the batch.
//
// Records whose key is new are issued together through the bulk path (one
// batch object for their documents, one transaction for their rows and
// origins). The rest (known keys, and a key's later occurrences in the
// same batch) then go one by one, in source order.
func (e *Engine) process(ctx context.Context, d *Definition, records []Record) (Counts, error) {
	st, err := e.stage(ctx, d, records, nil)
	if err != nil {
		return Counts{}, err
	}
	return e.apply(ctx, d, st)
}

// staged is a batch mapped, its keys looked up, and its new keys' first
// occurrences sealed and stored, but nothing of it committed: apply does
// the rest.
type staged struct {
	records  []Record
	mapped   []*Mapped  // nil where the record did not map
	rejected []rejected // records that did not map, quarantined by apply
	bulk     []int      // records issued by prepared
	prepared *certificates.PreparedBatch
	newKeys  map[string]bool // keys prepared issues
}

type rejected struct {
	index       int
	key, reason string
}

// stage does the part of process that writes nothing a reader can see:
// mapping, the origin lookup, and for new keys the bulk path up to its
// commit (documents sealed and in the object store). wait, if set, is
// called with the batch's keys before they are looked up.
func (e *Engine) stage(ctx context.Context, d *Definition, records []Record, wait func(keys []string)) (*staged, error) {
	st := &staged{records: records, mapped: make([]*Mapped, len(records))}
	t0 := time.Now()
	var keys []string
	for i, r := range records {
		m, err := d.Apply(r)
		if err != nil {
			reason, key, _ := d.rejection(err)
			st.rejected = append(st.rejected, rejected{index: i, key: key, reason: reason})
			continue
		}
		st.mapped[i] = m
		keys = append(keys, m.Key)
	}
	if wait != nil {
		wait(keys)
	}
	t1 := time.Now()
	known, err := e.Certs.Store.GetOrigins(ctx, d.Name, keys)
	if err != nil {
		return nil, err
	}
	e.Log.DebugContext(ctx, "connector mapping", "map", t1.Sub(t0), "origins", time.Since(t1))
	// The first occurrence of each new key goes to the bulk path.
	st.newKeys = map[string]bool{}
	for i, m := range st.mapped {
		if m == nil || known[m.Key] != nil || st.newKeys[m.Key] {
			continue
		}
		st.newKeys[m.Key] = true
		st.bulk = append(st.bulk, i)
	}
	if len(st.bulk) == 0 {
		return st, nil
	}
	reqs := make([]*certificates.IssueRequest, len(st.bulk))
	for n, i := range st.bulk {
		m := st.mapped[i]
		m.Request.Origin = &certificates.Origin{Connector: d.Name, SourceKey: m.Key, ContentHash: m.ContentHash, SourceStatus: StatusValid}
		reqs[n] = m.Request
	}
	if st.prepared, err = e.Certs.PrepareBatch(ctx, certificates.Scope{Authority: d.Authority}, reqs); err != nil {
		return nil, err
	}
	return st, nil
}

// apply commits a staged batch: quarantines, the bulk issuance with its
// ledger entry, then the other records one by one, in source order.
func (e *Engine) apply(ctx context.Context, d *Definition, st *staged) (Counts, error) {
	var c Counts
	c.Seen = int64(len(st.records))
	for _, r := range st.rejected {
		if err := e.quarantine(ctx, d.Name, r.key, r.reason, st.records[r.index]); err != nil {
			return c, err
		}
		c.Quarantined++
	}
	done := make([]bool, len(st.records))
	if st.prepared != nil {
		if err := st.prepared.Commit(ctx); err != nil {
			return c, err
		}
		results := st.prepared.Results
		var issued []string
		for _, res := range results {
			if res.Certificate != nil {
				issued = append(issued, res.Certificate.ID)
			}
		}
		if len(issued) > 0 {
			if err := e.Ledger.Record(ctx, exchange.AuditEntry{Actor: "connector:" + d.Name, Action: "issue", Certificates: issued}); err != nil {
				return c, err
			}
		}
		for n, i := range st.bulk {
			done[i] = true
			m, res := st.mapped[i], results[n]
			if res.Err != nil {
				reason, _, ok := d.rejection(res.Err)
				if !ok {
					return c, res.Err
				}
				if err := e.quarantine(ctx, d.Name, m.Key, reason, st.records[i]); err != nil {
					return c, err
				}
				c.Quarantined++
				continue
			}
			c.Issued++
			if m.Status != StatusValid {
				o := &certificates.Origin{Connector: d.Name, SourceKey: m.Key, ContentHash: m.ContentHash, SourceStatus: m.Status}
				if err := e.transition(ctx, certificates.Scope{Authority: d.Authority}, res.Certificate.ID, StatusValid, m.Status, o); err != nil {
					return c, err
				}
				c.Lifecycle++
			}
		}
	}
	for i, m := range st.mapped {
		if m == nil || done[i] {
			continue
		}
		outcome, certID, err := e.applyMapped(ctx, d, m)
		if err == nil && outcome != "unchanged" {
			err = e.Ledger.Record(ctx, exchange.AuditEntry{Actor: "connector:" + d.Name, Action: outcome, Certificates: []string{certID}})
		}
		if err != nil {
			if reason, _, ok := d.rejection(err); ok {
				if err := e.quarantine(ctx, d.Name, m.Key, reason, st.records[i]); err != nil {
					return c, err
				}
				c.Quarantined++
				continue
			}
			return c, err
		}
		switch outcome {
		case "issued":
			c.Issued++
		case "issued+lifecycle":
			c.Issued++
			c.Lifecycle++
		case "revised":
			c.Revised++
		case "revised+lifecycle":
			c.Revised++
			c.Lifecycle++
		case "lifecycle":
			c.Lifecycle++
		default:
			c.Unchanged++
		}
	}
	return c, nil
}

// rejection tells a record's own fault (quarantine it) from the hub's. The
// reason names each target field with the source field it comes from.
func (d *Definition) rejection(err error) (reason, key string, ok bool) {
	var re *RecordError
	if errors.As(err, &re) {
		if re.Source == "" {
			re.Source = d.Mapping.source(re.Field)
		}
		return re.Error(), re.Key, true
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		return "", "", false
	}
	switch e.Code {
	case errs.Invalid, errs.Conflict, errs.Forbidden:
		if e.Fields != nil {
			var parts []string
			for _, f := range e.Fields {
				parts = append(parts, fieldReason(f.Field, d.Mapping.source(f.Field), f.Reason))
			}
			return strings.Join(parts, "; "), "", true
		}
		return e.Error(), "", true
	}
	return "", "", false
}

func (e *Engine) processOne(ctx context.Context, d *Definition, r Record) (string, error) {
	m, err := d.Apply(r)
	if err != nil {
		return "", err
	}
	out, _, err := e.applyMapped(ctx, d, m)
	if err != nil {
		if reason, _, ok := d.rejection(err); ok {
			return "", &RecordError{Key: m.Key, Reason: reason}
		}
	}
	return out, err
}

func (e *Engine) applyMapped(ctx context.Context, d *Definition, m *Mapped) (outcome, certID string, err error) {
	sc := certificates.Scope{Authority: d.Authority}
	origin := func(status string) *certificates.Origin {
		return &certificates.Origin{Connector: d.Name, SourceKey: m.Key, ContentHash: m.ContentHash, SourceStatus: status}
	}
	prev, err := e.Certs.Store.GetOrigin(ctx, d.Name, m.Key)
	if errs.Is(err, errs.NotFound) {
		// New record: issue it; a record that arrives suspended or revoked
		// is issued and then given its status, each step recorded, so a
		// crash in between is finished by the next run.
		m.Request.Origin = origin(StatusValid)
		res, err := e.Certs.Issue(ctx, sc, m.Request, nil)
		if err != nil {
			return "", "", err
		}
		if m.Status == StatusValid {
			return "issued", res.Certificate.ID, nil
		}
		if err := e.transition(ctx, sc, res.Certificate.ID, StatusValid, m.Status, origin(m.Status)); err != nil {
			return "", "", err
		}
		return "issued+lifecycle", res.Certificate.ID, nil
	}
	if err != nil {
		return "", "", err
	}
	if prev.ContentHash == m.ContentHash && prev.SourceStatus == m.Status {
		return "unchanged", prev.CertificateID, nil
	}
	cur, err := e.Certs.Get(ctx, prev.CertificateID)
	if err != nil {
		return "", "", err
	}
	if prev.ContentHash != m.ContentHash {
		if m.Request.Holder.ID != cur.Holder.ID || m.Request.Holder.Kind != cur.Holder.Kind {
			return "", "", &RecordError{Key: m.Key, Field: "holder.id", Source: d.Mapping.Holder.ID.Field, Reason: "the source gives this record another holder; a certificate cannot move to another holder"}
		}
		if cur.State == certificates.StateRevoked {
			return "", "", &RecordError{Key: m.Key, Reason: "the source changed a record whose certificate is revoked; issue a new record instead"}
		}
		from, until := m.Request.ValidFrom, m.Request.ValidUntil
		res, err := e.Certs.Revise(ctx, sc, cur.ID, &certificates.ReviseRequest{Data: m.Request.Data, ValidFrom: &from, ValidUntil: &until,
			HolderName: m.Request.Holder.Name, Reason: "变更（来源系统记录已更新）", Origin: origin(prev.SourceStatus)})
		if err != nil {
			return "", "", err
		}
		cur, outcome = res.Certificate, "revised"
	}
	if prev.SourceStatus != m.Status {
		if err := e.transition(ctx, sc, cur.ID, prev.SourceStatus, m.Status, origin(m.Status)); err != nil {
			return "", "", err
		}
		if outcome == "" {
			return "lifecycle", cur.ID, nil
		}
		return outcome + "+lifecycle", cur.ID, nil
	}
	return outcome, cur.ID, nil
}

// transition applies the lifecycle change from one source status to another.
func (e *Engine) transition(ctx context.Context, sc certificates.Scope, id, from, to string, o *certificates.Origin) error {
	var act certificates.Action
	var reason string
	switch {
	case to == StatusSuspended:
		act, reason = certificates.Suspend, "暂扣（来源系统）"
	case to == StatusRevoked:
		act, reason = certificates.Revoke, "撤销（来源系统）"
	case to == StatusCancelled:
		act, reason = certificates.Revoke, "注销（来源系统）"
	case to == StatusValid && from == StatusSuspended:
		act, reason = certificates.Reinstate, "恢复（来源系统）"
	default:
		return &RecordError{Key: o.SourceKey, Field: "status", Reason: fmt.Sprintf("the source moved the record from %s to %s, which a certificate cannot do", from, to)}
	}
	_, err := e.Certs.LifecycleFrom(ctx, sc, id, act, reason, o)
	return err
}

func (e *Engine) quarantine(ctx context.Context, name, key, reason string, r Record) error {
	raw := r.Raw
	if raw == nil {
		raw, _ = json.Marshal(r.Fields)
	}
	sum := sha256.Sum256(raw)
	id := sha256.Sum256(append([]byte(name+"\x00"), raw...))
	q := &Quarantined{ID: "q_" + hex.EncodeToString(id[:10]), Connector: name, SourceKey: key, Reason: reason,
		RawHash: hex.EncodeToString(sum[:]), Raw: e.Certs.Vault.Seal("quarantine", string(raw)), CreatedAt: e.now()}
	if key == "" {
		q.SourceKey = "(no key)"
	}
	e.Log.WarnContext(ctx, "record quarantined", "connector", name, "quarantine_id", q.ID, "reason", reason)
	return e.Store.Quarantine(ctx, q)
}

// QuarantinedRecord opens a quarantined record's raw content.
func (e *Engine) QuarantinedRecord(ctx context.Context, id string) (*Quarantined, map[string]any, error) {
	q, err := e.Store.GetQuarantined(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	raw, err := e.Certs.Vault.Open("quarantine", q.Raw)
	if err != nil {
		return nil, nil, errs.Wrap(err, "open quarantined record")
	}
	var fields map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return nil, nil, errs.Wrap(err, "decode quarantined record")
	}
	return q, fields, nil
}

// Retry runs quarantined records (one, or all open ones of a connector)
// through the connector's current definition. It returns how many are
// now accepted; the rest stay with their new reason.
func (e *Engine) Retry(ctx context.Context, name, id string) (accepted, still int, err error) {
	d, _, err := e.Get(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	var ids []string
	if id != "" {
		ids = []string{id}
	} else {
		open, err := e.Store.ListQuarantine(ctx, name, false)
		if err != nil {
			return 0, 0, err
		}
		for _, q := range open {
			ids = append(ids, q.ID)
		}
	}
	for _, qid := range ids {
		q, fields, err := e.QuarantinedRecord(ctx, qid)
		if err != nil {
			return accepted, still, err
		}
		if q.Connector != name {
			return accepted, still, errs.E(errs.NotFound, "connector %s has no quarantined record %s", name, qid)
		}
		if q.ResolvedAt != nil {
			continue
		}
		raw, _ := e.Certs.Vault.Open("quarantine", q.Raw)
		_, err = e.processOne(ctx, d, Record{Fields: fields, Raw: []byte(raw)})
		if err != nil {
			if reason, key, ok := d.rejection(err); ok {
				still++
				if err := e.quarantine(ctx, name, key, reason, Record{Fields: fields, Raw: []byte(raw)}); err != nil {
					return accepted, still, err
				}
				continue
			}
			return accepted, still, err
		}
		if err := e.Store.ResolveQuarantined(ctx, qid, e.now()); err != nil {
			return accepted, still, err
		}
		accepted++
	}
	return accepted, still, nil
}
