package certificates

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// ObjectInfo is one object of a document store, as listed.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// ObjectLister is implemented by document stores that can enumerate and
// delete their objects (both of ours do). Only the orphan sweep uses it:
// nothing else ever deletes an object.
type ObjectLister interface {
	// List calls fn once for every object whose key starts with prefix.
	// An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Delete removes an object; a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// OrphanStore is what the orphan sweep needs of the metadata store.
type OrphanStore interface {
	// ReferencedKeys returns which of keys any row references: a
	// certificate version's document (a whole object or a byte range of a
	// bulk batch), a federated copy's document, an authority's seal
	// picture.
	ReferencedKeys(ctx context.Context, keys []string) (map[string]bool, error)
	// LeaseOrphanSweep takes (or keeps) the sweep's lease until until,
	// and says when a sweep last finished (zero if never); false when
	// another owner holds the lease.
	LeaseOrphanSweep(ctx context.Context, owner string, now, until time.Time) (last time.Time, ok bool, err error)
	// EndOrphanSweep hands owner's lease back at at (it runs out then),
	// recording at as the last finished sweep if finished.
	EndOrphanSweep(ctx context.Context, owner string, at time.Time, finished bool) error
}

// Defaults of OrphanSweep.
const (
	DefaultOrphanMinAge = 24 * time.Hour
	DefaultOrphanPage   = 1000
	DefaultOrphanLease  = 10 * time.Minute
)

// OrphanSweep deletes objects that no row references and that are older
// than MinAge: what a crash between an object's write and its row's commit
// leaves behind (every writer puts the object first, so a row never points
// at a missing object).
//
// Why it never deletes a referenced object:
//   - Rows are committed after their object is written, so an object whose
//     row is still on its way is as young as the write. MinAge (a day by
//     default) is far longer than any transaction; such an object is
//     listed as young and left alone.
//   - The references of a page are read after the page was listed and
//     right before its objects are deleted, never from an earlier page.
//   - Two writers tolerate finding their object already there (a seal
//     picture and a federated push's batch are content-addressed): their
//     object may be old and unreferenced when the row that will reference
//     it is about to commit. For these, the sweep reads each candidate
//     before deleting it and asks again after the deletions; a key
//     referenced by then is written back. A writer that found its object
//     present writes it again after its commit (PutAgain), which restores
//     it if the sweep deleted it after that second question. Either the
//     commit comes before the second question (the sweep restores) or after
//     it, and so after the deletion (the writer restores). What remains is
//     a writer that dies between its commit and that second write while
//     the sweep deletes the same old object: a row without its object
//     (certhub doctor reports it for certificate documents; a seal picture
//     is uploaded again; a federated batch can only come from its child
//     again).
type OrphanSweep struct {
	Store   OrphanStore
	Objects ObjectLister
	// Documents reads a candidate before its deletion and writes it back
	// if it turned out referenced.
	Documents DocumentStore
	// MinAge: younger objects are never touched (DefaultOrphanMinAge).
	MinAge time.Duration
	// Now is the clock against which ages are taken.
	Now func() time.Time
	// Owner names this process in the lease; Lease is how long the lease
	// lasts without renewal (renewed every page, DefaultOrphanLease).
	Owner string
	Lease time.Duration
	// Every, if set, skips a run when a sweep (by any process) finished
	// less than Every ago: replicas that each try at that interval
	// sweep about once per interval together.
	Every time.Duration
	// PageSize is how many keys are checked at once (DefaultOrphanPage).
	PageSize int
	// DryRun reports orphans without deleting them.
	DryRun bool
	Log    *slog.Logger
	// OnOrphan is called for every orphan, deleted (or, in a dry run,
	// found), with its age; also for the rare one written back afterwards.
	OnOrphan func(o ObjectInfo, age time.Duration)
}

// SweepReport sums a sweep.
type SweepReport struct {
	Listed   int   // objects looked at
	Young    int   // unreferenced, but younger than MinAge: left alone
	Orphans  int   // deleted (found, in a dry run)
	Bytes    int64 // their size
	Restored int   // deleted, then found referenced and written back (not in Orphans)
}

// Run sweeps every object once. It returns false without sweeping when
// another process holds the lease or, with Every, swept recently; it stops
// with an error when the lease is lost half-way (what was deleted until
// then stays deleted).
func (w *OrphanSweep) Run(ctx context.Context) (*SweepReport, bool, error) {
	page := w.PageSize
	if page <= 0 {
		page = DefaultOrphanPage
	}
	minAge := w.MinAge
	if minAge <= 0 {
		minAge = DefaultOrphanMinAge
	}
	lease := w.Lease
	if lease <= 0 {
		lease = DefaultOrphanLease
	}
	now := w.Now
	if now == nil {
		now = time.Now
	}
	// A dry run deletes nothing, so it needs no lease and leaves it to
	// whoever sweeps.
	leased := func() (time.Time, bool, error) {
		if w.DryRun {
			return time.Time{}, true, nil
		}
		t := now()
		return w.Store.LeaseOrphanSweep(ctx, w.Owner, t, t.Add(lease))
	}
	last, ok, err := leased()
	if err != nil || !ok {
		return nil, false, err
	}
	finished := false
	if !w.DryRun {
		// Hand the lease back when done (it runs out at once), so that a
		// sweep started on demand by another process need not wait.
		defer func() {
			_ = w.Store.EndOrphanSweep(context.WithoutCancel(ctx), w.Owner, now(), finished)
		}()
		if w.Every > 0 && !last.IsZero() && now().Sub(last) < w.Every {
			return nil, false, nil
		}
	}
	rep := &SweepReport{}
	var batch []ObjectInfo
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, ok, err := leased()
		if err != nil {
			return err
		}
		if !ok {
			return errs.E(errs.Conflict, "the orphan sweep's lease was lost; another process sweeps")
		}
		err = w.page(ctx, batch, now(), minAge, rep)
		batch = batch[:0]
		return err
	}
	err = w.Objects.List(ctx, "", func(o ObjectInfo) error {
		rep.Listed++
		batch = append(batch, o)
		if len(batch) == page {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	finished = err == nil
	return rep, true, err
}

// page deletes the orphans of one listed page.
func (w *OrphanSweep) page(ctx context.Context, objs []ObjectInfo, now time.Time, minAge time.Duration, rep *SweepReport) error {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	refs, err := w.Store.ReferencedKeys(ctx, keys)
	if err != nil {
		return fmt.Errorf("references of a page of objects: %w", err)
	}
	type deleted struct {
		o    ObjectInfo
		data []byte
	}
	var gone []deleted
	for _, o := range objs {
		if refs[o.Key] {
			continue
		}
		age := now.Sub(o.Modified)
		if age < minAge {
			rep.Young++
			continue
		}
		if !w.DryRun {
			data, err := w.Documents.Get(ctx, o.Key)
			if errs.Is(err, errs.NotFound) {
				continue // deleted meanwhile (another sweep before a lost lease)
			}
			if err != nil {
				return err
			}
			if err := w.Objects.Delete(ctx, o.Key); err != nil {
				return fmt.Errorf("delete orphan %s: %w", o.Key, err)
			}
			gone = append(gone, deleted{o, data})
		}
		rep.Orphans++
		rep.Bytes += o.Size
		if w.Log != nil {
			w.Log.InfoContext(ctx, "orphan object", "key", o.Key, "size", o.Size, "age", age.Round(time.Second).String(), "deleted", !w.DryRun)
		}
		if w.OnOrphan != nil {
			w.OnOrphan(o, age)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	keys = keys[:0]
	for _, d := range gone {
		keys = append(keys, d.o.Key)
	}
	refs, err = w.Store.ReferencedKeys(ctx, keys)
	if err != nil {
		return fmt.Errorf("references of the deleted orphans (some may need writing back): %w", err)
	}
	for _, d := range gone {
		if !refs[d.o.Key] {
			continue
		}
		// A writer committed a row naming this key while it was being
		// deleted (see OrphanSweep): it was no orphan after all.
		if err := w.Documents.Put(ctx, d.o.Key, d.data); err != nil && !errs.Is(err, errs.Conflict) {
			return fmt.Errorf("write back %s, referenced since its deletion: %w", d.o.Key, err)
		}
		rep.Restored++
		rep.Orphans--
		rep.Bytes -= d.o.Size
		if w.Log != nil {
			w.Log.WarnContext(ctx, "object referenced while swept: written back", "key", d.o.Key)
		}
	}
	return nil
}

// PutAgain writes an object once more after the row referencing it has
// committed, for writers that tolerated finding it present before (its
// first Put answered errs.Conflict): an orphan sweep may have deleted it
// between that Put and the commit (see OrphanSweep). Finding it present
// again is the normal case.
func PutAgain(ctx context.Context, docs DocumentStore, key string, data []byte) error {
	if err := docs.Put(ctx, key, data); err != nil && !errs.Is(err, errs.Conflict) {
		return err
	}
	return nil
}
