package exchange

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/certhub/certhub/internal/errs"
)

// The ledger over years: closed months are archived to the object store as
// bundles that verify on their own, and leave the database (PostgreSQL
// drops the month's partition). Verification reads them back, so the chain
// is still proved from entry 1 (docs/operations.md).

// AuditArchive records one archived month: entries FirstSeq..LastSeq are
// in the object Key, whose SHA-256 is SHA256; PrevHash is the hash of the
// entry before FirstSeq, LastHash that of LastSeq.
type AuditArchive struct {
	Month      string    `json:"month"` // YYYY-MM, UTC
	FirstSeq   int64     `json:"first_seq"`
	LastSeq    int64     `json:"last_seq"`
	PrevHash   string    `json:"prev_hash"`
	LastHash   string    `json:"last_hash"`
	Key        string    `json:"key"`
	SHA256     string    `json:"sha256"`
	ArchivedAt time.Time `json:"archived_at"`
}

// ArchiveObjects is where archived months are kept: the document store.
type ArchiveObjects interface {
	// Put writes an object once; errs.Conflict if the key exists.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads an object; errs.NotFound if absent.
	Get(ctx context.Context, key string) ([]byte, error)
}

// ArchiveStore is what archiving needs of a LedgerStore. A store without
// it has no archived months.
type ArchiveStore interface {
	// ListAuditArchives lists the archived months by first entry.
	ListAuditArchives(ctx context.Context) ([]*AuditArchive, error)
	// AddAuditArchive records an archived month; errs.Conflict if it is
	// recorded already.
	AddAuditArchive(ctx context.Context, a *AuditArchive) error
	// FirstLiveAudit returns the first entry still in the database after
	// seq after, and its time; false when there is none.
	FirstLiveAudit(ctx context.Context, after int64) (seq int64, at time.Time, ok bool, err error)
	// LastAuditBefore returns the highest seq of an entry in the database
	// whose time is before t (0 if none).
	LastAuditBefore(ctx context.Context, t time.Time) (int64, error)
	// PurgeAudit removes the entries up to lastSeq from the database (on
	// PostgreSQL dropping the month partitions that end by end) and says
	// how many it removed.
	PurgeAudit(ctx context.Context, end time.Time, lastSeq int64) (int64, error)
	// EnsureAuditPartitions creates the partitions of now's month and the
	// next where the store partitions the ledger (idempotent).
	EnsureAuditPartitions(ctx context.Context, now time.Time) error
}

// ArchiveKey is the object key of an archived month.
func ArchiveKey(month string) string { return "ledger/archive/" + month + ".jsonl" }

// zeroHash is the hash before entry 1.
var zeroHash = strings.Repeat("0", 64)

// ParseArchiveMonth reads a YYYY-MM month that archiving may take as its
// bound: it must not be after now's month (UTC), whose entries are still
// being written. field names the input in errors.
func ParseArchiveMonth(field, value string, now time.Time) (time.Time, error) {
	m, err := time.Parse("2006-01", value)
	if err != nil {
		return time.Time{}, errs.E(errs.Invalid, "%s: %q is not a month (YYYY-MM, e.g. 2026-01)", field, value)
	}
	if cur := monthOf(now); m.After(cur) {
		return time.Time{}, errs.E(errs.Invalid, "%s %s: only closed months can be archived; the current month is %s, so %s is the latest bound",
			field, value, cur.Format("2006-01"), cur.Format("2006-01"))
	}
	return m, nil
}

// monthOf is the first instant of t's month, UTC.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// archiveStore is the ledger's store as an ArchiveStore, nil if it is not.
func (l *Ledger) archiveStore() ArchiveStore {
	as, _ := l.Store.(ArchiveStore)
	return as
}

// Archives lists the archived months (none if the store cannot archive).
func (l *Ledger) Archives(ctx context.Context) ([]*AuditArchive, error) {
	as := l.archiveStore()
	if as == nil {
		return nil, nil
	}
	return as.ListAuditArchives(ctx)
}

// ArchivedBefore is the month (YYYY-MM) before which the ledger's entries
// are archived, not in the database: "" if none are. A holder's access
// history (HolderAudit) covers the entries from then on.
func (l *Ledger) ArchivedBefore(ctx context.Context) (string, error) {
	as, err := l.Archives(ctx)
	if err != nil || len(as) == 0 {
		return "", err
	}
	m, err := time.Parse("2006-01", as[len(as)-1].Month)
	if err != nil {
		return "", err
	}
	return m.AddDate(0, 1, 0).Format("2006-01"), nil
}

// EnsurePartitions creates the ledger's partitions of now's month and the
// next, where the store partitions it.
func (l *Ledger) EnsurePartitions(ctx context.Context) error {
	if as := l.archiveStore(); as != nil {
		return as.EnsureAuditPartitions(ctx, l.Now())
	}
	return nil
}

// archiveError is an archived month that cannot be read or does not hold
// what was recorded: verification names the month.
type archiveError struct {
	month, key, problem string
	seq                 int64
}

func (e *archiveError) Error() string {
	return fmt.Sprintf("archived month %s (object %s): %s", e.month, e.key, e.problem)
}

// openArchive reads an archived month back and checks it is the object
// recorded (its SHA-256) and holds what the record says; it returns the
// bundle and the roots of its checkpoints signed by the ledger key, which
// must include one at its last entry.
func (l *Ledger) openArchive(ctx context.Context, a *AuditArchive) (*Bundle, map[int64]string, error) {
	fail := func(format string, args ...any) error {
		return &archiveError{month: a.Month, key: a.Key, seq: a.FirstSeq, problem: fmt.Sprintf(format, args...)}
	}
	if l.Objects == nil {
		return nil, nil, fail("no object store is configured to read it from")
	}
	data, err := l.Objects.Get(ctx, a.Key)
	if errs.Is(err, errs.NotFound) {
		return nil, nil, fail("the object is missing from the object store")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("archived month %s: %w", a.Month, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != a.SHA256 {
		return nil, nil, fail("the object does not match the SHA-256 recorded when it was archived (%s…): it was altered or replaced", a.SHA256[:min(16, len(a.SHA256))])
	}
	b, err := ReadBundle(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fail("%v", err)
	}
	if h := b.Archive; h == nil || h.Month != a.Month || h.First != a.FirstSeq || h.Last != a.LastSeq || h.Prev != a.PrevHash {
		return nil, nil, fail("its archive line does not say it holds entries %d to %d after hash %s…", a.FirstSeq, a.LastSeq, a.PrevHash[:min(16, len(a.PrevHash))])
	}
	roots := map[int64]string{}
	for _, c := range b.Checkpoints {
		size, root, err := OpenCheckpoint(c.Note, l.Origin, l.Key.verifier())
		if err != nil {
			return nil, nil, fail("a checkpoint in it does not open with the ledger key: %s", checkpointProblem(err, l.Key.verifier()))
		}
		roots[size] = root
	}
	if _, ok := roots[a.LastSeq]; !ok {
		return nil, nil, fail("it has no signed checkpoint at its last entry %d", a.LastSeq)
	}
	return b, roots, nil
}

// scan calls fn for every entry up to to (0: all) in seq order: those of
// the archived months read from the object store, then those in the
// database after the last archived one.
func (l *Ledger) scan(ctx context.Context, archives []*AuditArchive, to int64, fn func(LedgerRecord) error) error {
	next := int64(1)
	for _, a := range archives {
		if to > 0 && a.FirstSeq > to {
			return nil
		}
		b, roots, err := l.openArchive(ctx, a)
		if err != nil {
			return err
		}
		for _, r := range b.Records {
			if to > 0 && r.Seq > to {
				return nil
			}
			if root, ok := roots[r.Seq]; ok && root != r.Hash {
				return &archiveError{month: a.Month, key: a.Key, seq: r.Seq,
					problem: fmt.Sprintf("entry %d does not match the month's signed checkpoint: the archive was rewritten", r.Seq)}
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		next = a.LastSeq + 1
	}
	return l.Store.ScanAudit(ctx, next, to, fn)
}

// ScanAll calls fn for every entry up to to (0: all) in seq order,
// archived months included (read from the object store).
func (l *Ledger) ScanAll(ctx context.Context, to int64, fn func(LedgerRecord) error) error {
	archives, err := l.Archives(ctx)
	if err != nil {
		return err
	}
	return l.scan(ctx, archives, to, fn)
}

// ArchiveReport says what an archive run did.
type ArchiveReport struct {
	Archived []*AuditArchive `json:"archived"` // months archived by this run
	// Finished are months an earlier run archived but had not yet removed
	// from the database (it stopped between the two).
	Finished []string `json:"finished,omitempty"`
	Removed  int64    `json:"removed"` // entries removed from the database
}

// Archive archives every month before before (a month start, UTC, not
// after the current month: ParseArchiveMonth) that has entries in the
// database: for each, in order, it writes a bundle (the month's entries,
// the hash before them, and the checkpoints among them, one signed at the
// last entry if none was), reads it back and verifies it, records it, and
// only then removes the entries from the database. A month is the run of
// entries after the last archived one up to the last whose time is in the
// month; an entry written out of time order travels with its neighbours.
// Running it again skips archived months and finishes one a stopped run
// left in the database.
func (l *Ledger) Archive(ctx context.Context, before time.Time) (*ArchiveReport, error) {
	as := l.archiveStore()
	if as == nil {
		return nil, errs.E(errs.Invalid, "this store cannot archive the ledger")
	}
	if l.Objects == nil {
		return nil, errs.E(errs.Invalid, "archiving the ledger needs an object store")
	}
	if before.After(monthOf(l.Now())) {
		return nil, errs.E(errs.Invalid, "before: %s is after the current month", before.Format("2006-01"))
	}
	archives, err := as.ListAuditArchives(ctx)
	if err != nil {
		return nil, err
	}
	rep := &ArchiveReport{}
	// Months recorded but still in the database: check the object again,
	// then remove them.
	first, _, live, err := as.FirstLiveAudit(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, a := range archives {
		if !live || first > a.LastSeq {
			continue
		}
		if err := l.checkArchived(ctx, a); err != nil {
			return rep, err
		}
		m, _ := time.Parse("2006-01", a.Month)
		n, err := as.PurgeAudit(ctx, m.AddDate(0, 1, 0), a.LastSeq)
		if err != nil {
			return rep, fmt.Errorf("remove archived month %s from the database: %w", a.Month, err)
		}
		rep.Finished, rep.Removed = append(rep.Finished, a.Month), rep.Removed+n
	}

	prevSeq, prevHash, lastMonth := int64(0), zeroHash, time.Time{}
	if len(archives) > 0 {
		a := archives[len(archives)-1]
		prevSeq, prevHash = a.LastSeq, a.LastHash
		lastMonth, _ = time.Parse("2006-01", a.Month)
	}
	for {
		seq, at, ok, err := as.FirstLiveAudit(ctx, prevSeq)
		if err != nil || !ok {
			return rep, err
		}
		if seq != prevSeq+1 {
			return rep, errs.E(errs.Internal, "the ledger in the database starts at entry %d, not %d after the last archived entry: entries are missing (certhub audit verify)", seq, prevSeq+1)
		}
		m := monthOf(at)
		if !lastMonth.IsZero() && !m.After(lastMonth) {
			m = lastMonth.AddDate(0, 1, 0) // an entry dated in an archived month
		}
		if !m.Before(before) {
			return rep, nil
		}
		end := m.AddDate(0, 1, 0)
		last, err := as.LastAuditBefore(ctx, end)
		if err != nil {
			return rep, err
		}
		last = max(last, seq)
		a, err := l.archiveMonth(ctx, m.Format("2006-01"), seq, last, prevHash)
		if err != nil {
			return rep, err
		}
		if err := as.AddAuditArchive(ctx, a); err != nil {
			return rep, err
		}
		n, err := as.PurgeAudit(ctx, end, last)
		if err != nil {
			return rep, fmt.Errorf("remove archived month %s from the database: %w", a.Month, err)
		}
		rep.Archived, rep.Removed = append(rep.Archived, a), rep.Removed+n
		prevSeq, prevHash, lastMonth = a.LastSeq, a.LastHash, m
	}
}

// archiveMonth writes the bundle of entries first..last (after prev),
// reads it back and verifies it, and returns its record (not yet stored).
// If the object exists already (a run stopped before recording it), it
// must be the same bundle.
func (l *Ledger) archiveMonth(ctx context.Context, month string, first, last int64, prev string) (*AuditArchive, error) {
	cps, err := l.Store.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	_ = enc.Encode(BundleLine{Kind: "key", Key: l.VerifierKey, Origin: l.Origin})
	_ = enc.Encode(BundleLine{Kind: "archive", Month: month, First: first, Last: last, Prev: prev})
	var entries bytes.Buffer
	eenc := json.NewEncoder(&entries)
	lastHash, want := "", first
	err = l.Store.ScanAudit(ctx, first, last, func(r LedgerRecord) error {
		if r.Seq != want {
			return errs.E(errs.Internal, "archiving %s: entry %d is missing from the database", month, want)
		}
		want++
		lastHash = r.Hash
		return eenc.Encode(BundleLine{Kind: "entry", Seq: r.Seq, Body: r.Body, Hash: r.Hash})
	})
	if err != nil {
		return nil, err
	}
	if want != last+1 {
		return nil, errs.E(errs.Internal, "archiving %s: entries %d to %d are missing from the database", month, want, last)
	}
	atEnd := false
	for _, c := range cps {
		if c.Size >= first && c.Size <= last {
			atEnd = atEnd || c.Size == last
			_ = enc.Encode(BundleLine{Kind: "checkpoint", Checkpoint: string(c.Note), At: c.At})
		}
	}
	if !atEnd {
		c, err := l.sign(ctx, last, lastHash)
		if err != nil {
			return nil, err
		}
		_ = enc.Encode(BundleLine{Kind: "checkpoint", Checkpoint: string(c.Note), At: c.At})
	}
	buf.Write(entries.Bytes())
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	a := &AuditArchive{Month: month, FirstSeq: first, LastSeq: last, PrevHash: prev, LastHash: lastHash, Key: ArchiveKey(month),
		SHA256: hex.EncodeToString(sum[:]), ArchivedAt: l.Now().UTC().Truncate(time.Microsecond)}
	if err := l.Objects.Put(ctx, a.Key, data); errs.Is(err, errs.Conflict) {
		// A run that stopped after writing it: the same entries and
		// checkpoints make the same bytes.
		old, gerr := l.Objects.Get(ctx, a.Key)
		if gerr != nil {
			return nil, gerr
		}
		if !bytes.Equal(old, data) {
			return nil, errs.E(errs.Conflict, "archiving %s: object %s exists with other content; move it aside and run again", month, a.Key)
		}
	} else if err != nil {
		return nil, fmt.Errorf("archiving %s: write %s: %w", month, a.Key, err)
	}
	if err := l.checkArchived(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// checkArchived reads an archived month back and verifies it on its own
// (the chain from its previous hash, its signed checkpoint at the end):
// its entries leave the database only after this.
func (l *Ledger) checkArchived(ctx context.Context, a *AuditArchive) error {
	b, _, err := l.openArchive(ctx, a)
	if err != nil {
		return err
	}
	rep, err := b.Verify(ctx, l.Key.verifier())
	if err != nil {
		return err
	}
	if !rep.OK {
		return &archiveError{month: a.Month, key: a.Key, seq: rep.FirstBad, problem: "does not verify: " + rep.Problem}
	}
	if n := len(b.Records); n == 0 || b.Records[n-1].Hash != a.LastHash {
		return &archiveError{month: a.Month, key: a.Key, seq: a.LastSeq, problem: "its last entry's hash is not the one recorded"}
	}
	return nil
}

// sign signs and stores a checkpoint of the first size entries, whose head
// hash is root.
func (l *Ledger) sign(ctx context.Context, size int64, root string) (*Checkpoint, error) {
	raw, _ := hex.DecodeString(root)
	text := fmt.Sprintf("%s\n%d\n%s\n", l.Origin, size, base64.StdEncoding.EncodeToString(raw))
	signed, err := note.Sign(&note.Note{Text: text}, l.Key.signer())
	if err != nil {
		return nil, errs.Wrap(err, "sign checkpoint")
	}
	c := &Checkpoint{Size: size, Root: root, Note: signed, At: l.Now().UTC().Truncate(time.Microsecond)}
	return c, l.Store.SaveCheckpoint(ctx, c)
}
