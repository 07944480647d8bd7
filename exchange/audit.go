package exchange

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// AuditEntry is one access or change, appended to the tamper-evident
// ledger. Holders appear only as their keyed hash, never their id.
type AuditEntry struct {
	Seq          int64     `json:"seq"`
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`      // role:id, e.g. consumer:tok_…, connector:name
	ActorName    string    `json:"actor_name"` // who that is, for people reading the ledger
	Action       string    `json:"action"`     // lookup, document, issue, revise, suspend, …
	Certificates []string  `json:"certificates,omitempty"`
	Holder       string    `json:"holder,omitempty"` // holder index (keyed hash)
	Fields       []string  `json:"fields,omitempty"`
	Purpose      string    `json:"purpose,omitempty"`
	CaseID       string    `json:"case_id,omitempty"`
	Agreement    string    `json:"agreement,omitempty"`
	Outcome      string    `json:"outcome"`
	// RequestID links the entries two hubs write for one forwarded call
	// (docs/federation.md): the same id in the requesting hub's ledger and
	// in the far hub's.
	RequestID string `json:"request_id,omitempty"`

	// Day is the entry's date in the hub's time zone, for the usage
	// counters; not part of the hashed body.
	Day string `json:"-"`
}

// Usage counts an entry in the daily statistics: accesses once per entry
// and certificate type, issuances and lifecycle changes once per
// certificate. Actions outside these are not counted.
func Usage(e AuditEntry) map[UsageKey]int64 {
	kind, ok := usageActions[e.Action]
	if !ok || e.Day == "" {
		return nil
	}
	out := map[UsageKey]int64{}
	for _, id := range e.Certificates {
		typ, auth := certificateParts(id)
		k := UsageKey{Day: e.Day, Action: kind, Actor: e.Actor, Type: typ, Authority: auth, Purpose: e.Purpose}
		if isChange(kind) {
			out[k]++
		} else {
			out[k] = 1
		}
	}
	if len(e.Certificates) == 0 && !isChange(kind) {
		out[UsageKey{Day: e.Day, Action: kind, Actor: e.Actor, Purpose: e.Purpose}] = 1
	}
	return out
}

// UsageKey is one counter of the daily statistics.
type UsageKey struct {
	Day, Action, Actor, Type, Authority, Purpose string
}

// UsageCategories are the report's categories, in the order reports list
// them: accesses first, then changes.
var UsageCategories = []string{"lookup", "document", "match", "verification", "share_view", "issuance", "revision", "lifecycle"}

// usageActions maps ledger actions to the report's categories.
var usageActions = map[string]string{
	"lookup": "lookup", "read": "lookup", "resolve": "lookup", "document": "document", "match": "match", "clerk_verify": "verification",
	"share_view": "share_view", "issue": "issuance", "issued": "issuance", "issued+lifecycle": "issuance",
	"revise": "revision", "revised": "revision", "revised+lifecycle": "revision",
	"suspend": "lifecycle", "reinstate": "lifecycle", "revoke": "lifecycle", "lifecycle": "lifecycle",
}

func isChange(kind string) bool {
	return kind == "issuance" || kind == "revision" || kind == "lifecycle"
}

// certificateParts reads the type code and issuer from an identifier
// (1.2.156.3005.2.<type>.<issuer>.…) without validating it.
func certificateParts(id string) (typ, authority string) {
	parts := strings.Split(strings.TrimPrefix(id, "1.2.156.3005.2."), ".")
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[1]
}

// LedgerRecord is an entry as stored: its canonical body and chain hash,
// hash(n) = SHA-256(hash(n-1) || body(n)), hash(0) = 32 zero bytes.
type LedgerRecord struct {
	Seq  int64
	Body []byte
	Hash string // hex
	// Holder is the holder index the store files the entry under (what
	// HolderAudit finds it by), "" for none; nil where there is no such
	// index (a bundle). Verification checks it is the body's holder, so
	// an entry moved away from its holder, or to another, is reported.
	Holder *string
}

// bodyHolder reads the holder index out of a canonical body (Body): the
// text between `,"holder":"` and the next '"', "" when there is none.
// Body's encoder writes every '"' inside a string as \", so those bytes
// can only be the key itself. The databases derive the holder column by
// the same rule (migrations 0012). Reading bytes is much cheaper than
// decoding the entry, and a verification reads every entry.
func bodyHolder(body []byte) string {
	const key = `,"holder":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	if end := bytes.IndexByte(rest, '"'); end >= 0 {
		rest = rest[:end]
	}
	return string(rest)
}

// ChainHash is the hash of a record after prev (hex) with body.
func ChainHash(prev string, body []byte) string {
	p, _ := hex.DecodeString(prev)
	if len(p) != sha256.Size {
		p = make([]byte, sha256.Size)
	}
	h := sha256.New()
	h.Write(p)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Checkpoint is a signed statement of the ledger's size and head hash.
type Checkpoint struct {
	Size int64
	Root string // hex
	Note []byte // the signed note (C2SP tlog-checkpoint body)
	At   time.Time
}

// LedgerStore keeps the ledger.
type LedgerStore interface {
	// AppendAudit appends entries in order, assigning Seq and chaining
	// hashes in one transaction (group-committed); it returns when they
	// are durable.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// ScanAudit calls fn for records with from <= seq <= to (to 0: to the
	// end) in seq order.
	ScanAudit(ctx context.Context, from, to int64, fn func(LedgerRecord) error) error
	// AuditHead returns the ledger's size and head hash.
	AuditHead(ctx context.Context) (int64, string, error)
	// SaveCheckpoint stores a checkpoint (one per size).
	SaveCheckpoint(ctx context.Context, c *Checkpoint) error
	// ListCheckpoints lists checkpoints by size.
	ListCheckpoints(ctx context.Context) ([]*Checkpoint, error)
	// HolderAudit lists the latest entries about a holder: those whose
	// hashed body names the holder's keyed hash. errs.Internal if the
	// store files an entry under a holder its body does not name (the
	// store was tampered with).
	HolderAudit(ctx context.Context, holder string, limit int) ([]AuditEntry, error)
	// UsageReport lists the daily counters of days from..to (inclusive,
	// YYYY-MM-DD).
	UsageReport(ctx context.Context, from, to string) ([]UsageRow, error)
}

// UsageRow is a day's counter.
type UsageRow struct {
	UsageKey
	Count int64
}

// Ledger records and proves accesses and changes.
type Ledger struct {
	Store  LedgerStore
	Key    noteKey
	Origin string // the log's name in checkpoints, e.g. "certhub.hangzhou.gov.cn/ledger"
	Now    func() time.Time
	// Location is the zone of the statistics' days (the hub's).
	Location *time.Location
	// Objects keeps archived months (certhub audit archive); nil when
	// the ledger was never archived.
	Objects ArchiveObjects
	// VerifierKey is the ledger's verifier key in note form, written into
	// archived months so they verify on their own.
	VerifierKey string
}

type noteKey interface {
	signer() note.Signer
	verifier() note.Verifier
}

// Keys adapts a signer and verifier pair for the ledger.
type Keys struct {
	Signer   note.Signer
	Verifier note.Verifier
}

func (k Keys) signer() note.Signer     { return k.Signer }
func (k Keys) verifier() note.Verifier { return k.Verifier }

// Record appends one entry; the caller learns only when it is durable.
func (l *Ledger) Record(ctx context.Context, e AuditEntry) error {
	return l.RecordAll(ctx, []AuditEntry{e})
}

// RecordAll appends entries together (one group commit for all); the
// caller learns only when they are durable.
func (l *Ledger) RecordAll(ctx context.Context, es []AuditEntry) error {
	if l == nil || len(es) == 0 {
		return nil
	}
	return l.Store.AppendAudit(ctx, l.stamp(es))
}

// CaseLedger is a LedgerStore that can write a resolve's case record in
// the transaction that appends the resolve's entries: one commit for the
// resolve to wait for instead of two.
type CaseLedger interface {
	// AppendAuditCase is AppendAudit with rec recorded as
	// ItemStore.RecordResolution would, in the same transaction.
	AppendAuditCase(ctx context.Context, entries []AuditEntry, rec *Resolution) error
}

// RecordWithCase appends a resolve's entries and records its case. Where
// the ledger's store is also where cases are kept (store) and can write
// both at once (CaseLedger), they are one transaction; otherwise two
// writes waited for together. Either failing fails the call.
func (l *Ledger) RecordWithCase(ctx context.Context, es []AuditEntry, store ItemStore, rec *Resolution) error {
	if l == nil || len(es) == 0 {
		return store.RecordResolution(ctx, rec)
	}
	if cl, ok := l.Store.(CaseLedger); ok && any(l.Store) == any(store) {
		return cl.AppendAuditCase(ctx, l.stamp(es), rec)
	}
	recorded := make(chan error, 1)
	go func() { recorded <- store.RecordResolution(ctx, rec) }()
	err := l.RecordAll(ctx, es)
	if rerr := <-recorded; err == nil {
		err = rerr
	}
	return err
}

// stamp fills what the ledger sets on every entry: its time (now, unless
// given), its outcome ("ok" unless given) and its day in the hub's zone.
func (l *Ledger) stamp(es []AuditEntry) []AuditEntry {
	loc := l.Location
	if loc == nil {
		loc = time.UTC
	}
	now := l.Now().UTC().Truncate(time.Microsecond)
	for i := range es {
		if es[i].At.IsZero() {
			es[i].At = now
		}
		if es[i].Outcome == "" {
			es[i].Outcome = "ok"
		}
		es[i].Day = es[i].At.In(loc).Format("2006-01-02")
	}
	return es
}

// Body is the canonical form of an entry that the chain hashes.
func Body(e AuditEntry) []byte {
	b, _ := json.Marshal(e) // struct fields marshal in declaration order
	return b
}

// Checkpoint signs the ledger's current size and head (if it grew since
// the last checkpoint) and stores it.
func (l *Ledger) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	size, root, err := l.Store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := l.Store.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	if len(cps) > 0 && cps[len(cps)-1].Size == size {
		return cps[len(cps)-1], nil
	}
	return l.sign(ctx, size, root)
}

// OpenCheckpoint verifies a signed checkpoint note and reads its size and root.
func OpenCheckpoint(signed []byte, origin string, v note.Verifier) (size int64, root string, err error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return 0, "", fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 || lines[0] != origin {
		return 0, "", fmt.Errorf("checkpoint names log %q, not %q", lines[0], origin)
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("checkpoint size: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		return 0, "", fmt.Errorf("checkpoint root: %w", err)
	}
	return size, hex.EncodeToString(raw), nil
}

// VerifyReport is the outcome of a ledger verification.
type VerifyReport struct {
	Checked     int64 `json:"checked"`
	Checkpoints int   `json:"checkpoints"`
	OK          bool  `json:"ok"`
	FirstBad    int64 `json:"first_bad,omitempty"`
	// BadCheckpoint is the place (from 1, in size order) of the first
	// checkpoint that does not open with the ledger key; the Problem says
	// which and why, and no entry is named.
	BadCheckpoint int    `json:"bad_checkpoint,omitempty"`
	Problem       string `json:"problem,omitempty"`
	// Month is the archived month (YYYY-MM) the problem is in, when it is
	// in one: its object is missing, altered, or its entries are bad.
	Month string `json:"month,omitempty"`
}

// Verify recomputes the chain over the records from..to (to 0: all) and
// checks it against every signed checkpoint it reaches. It reports the
// first entry that was altered, removed or moved. Archived months are read
// from the object store first (each checked against the SHA-256 recorded
// when it was archived and its own signed checkpoint), then the live
// entries continue the chain from the last archived one.
func (l *Ledger) Verify(ctx context.Context, from, to int64) (*VerifyReport, error) {
	cps, err := l.Store.ListCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	archives, err := l.Archives(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := VerifyChain(ctx, l.Origin, l.Key.verifier(), cps, func(fn func(LedgerRecord) error) error {
		return l.scan(ctx, archives, to, fn)
	}, from)
	var ae *archiveError
	if errors.As(err, &ae) {
		return &VerifyReport{Month: ae.month, FirstBad: ae.seq, Problem: ae.Error()}, nil
	}
	if err != nil || rep.OK || rep.FirstBad == 0 {
		return rep, err
	}
	for _, a := range archives {
		if rep.FirstBad >= a.FirstSeq && rep.FirstBad <= a.LastSeq {
			rep.Month = a.Month
			rep.Problem += fmt.Sprintf(" (in archived month %s, object %s)", a.Month, a.Key)
		}
	}
	return rep, nil
}

// VerifyChain checks a chain of records (in seq order, from seq 1) against
// signed checkpoints; records before from are hashed but not reported.
func VerifyChain(ctx context.Context, origin string, v note.Verifier, cps []*Checkpoint, scan func(func(LedgerRecord) error) error, from int64) (*VerifyReport, error) {
	return VerifyChainFrom(ctx, origin, v, cps, 1, "", scan, from)
}

// VerifyChainFrom is VerifyChain over a chain that starts at entry first,
// after an entry whose hash was prev (an archived month: docs/operations.md).
func VerifyChainFrom(ctx context.Context, origin string, v note.Verifier, cps []*Checkpoint, first int64, prev string, scan func(func(LedgerRecord) error) error, from int64) (*VerifyReport, error) {
	rep := &VerifyReport{}
	roots := map[int64]string{}
	for i, c := range cps {
		size, root, err := OpenCheckpoint(c.Note, origin, v)
		if err != nil {
			rep.BadCheckpoint = i + 1
			rep.Problem = fmt.Sprintf("%s: %s", describeCheckpoint(i+1, c), checkpointProblem(err, v))
			return rep, nil
		}
		roots[size] = root
		rep.Checkpoints++
	}
	want := first
	bad := func(seq int64, format string, args ...any) error {
		rep.FirstBad, rep.Problem = seq, fmt.Sprintf(format, args...)
		return errStop
	}
	err := scan(func(r LedgerRecord) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Seq != want {
			return bad(want, "entry %d is missing (the next entry is %d): removed or reordered", want, r.Seq)
		}
		h := ChainHash(prev, r.Body)
		if h != r.Hash {
			return bad(r.Seq, "entry %d does not match its hash: altered, or a neighbour was", r.Seq)
		}
		if r.Holder != nil && *r.Holder != bodyHolder(r.Body) {
			return bad(r.Seq, "entry %d is filed under a holder index its hashed body does not name (%s): the holder column was altered, so the holder's list of accesses is wrong",
				r.Seq, holderChange(bodyHolder(r.Body), *r.Holder))
		}
		if root, ok := roots[r.Seq]; ok && root != h {
			return bad(r.Seq, "the chain up to entry %d does not match the signed checkpoint: the ledger was rewritten", r.Seq)
		}
		prev, want = h, want+1
		if r.Seq >= from {
			rep.Checked++
		}
		return nil
	})
	if err != nil && err != errStop {
		return nil, err
	}
	if rep.Problem == "" {
		for size := range roots {
			if size >= want {
				rep.FirstBad, rep.Problem = want, fmt.Sprintf("a signed checkpoint covers %d entries but the ledger ends at %d: entries were removed", size, want-1)
				break
			}
		}
	}
	rep.OK = rep.Problem == ""
	return rep, nil
}

// holderChange says how an entry's holder column differs from its body,
// naming the indexes by their first characters only.
func holderChange(body, column string) string {
	short := func(h string) string {
		if h == "" {
			return "none"
		}
		return h[:min(len(h), 16)] + "…"
	}
	return fmt.Sprintf("body %s, column %s", short(body), short(column))
}

// describeCheckpoint names a checkpoint for a report: its place, the size
// its text states (read without trusting it) and when it was signed.
func describeCheckpoint(place int, c *Checkpoint) string {
	size := c.Size
	if lines := strings.SplitN(string(c.Note), "\n", 3); len(lines) == 3 {
		if n, err := strconv.ParseInt(lines[1], 10, 64); err == nil {
			size = n
		}
	}
	if c.At.IsZero() {
		return fmt.Sprintf("checkpoint %d (size %d)", place, size)
	}
	return fmt.Sprintf("checkpoint %d (size %d, signed %s)", place, size, c.At.UTC().Format(time.RFC3339))
}

// checkpointProblem says why a checkpoint did not open with the ledger key.
func checkpointProblem(err error, v note.Verifier) string {
	ours := fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return fmt.Sprintf("signature is not by the ledger key %s — signed by another key (%s)", ours, strings.Join(by, ", "))
	case errors.As(err, &invalid):
		return fmt.Sprintf("the signature by the ledger key %s does not verify: the checkpoint's text was altered after signing", ours)
	default:
		return err.Error()
	}
}

var errStop = fmt.Errorf("stop")
