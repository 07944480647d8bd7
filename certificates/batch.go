package certificates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// BatchResult is the outcome of one request of a batch issuance.
type BatchResult struct {
	Certificate *Certificate
	Err         error // the request's own fault (validation); nil when issued
}

// IssueBatch issues many first versions at once, the bulk path for
// connectors' backfills. Each request is validated on its own; the valid
// ones of one type and issuer get consecutive serials, are sealed, and
// their documents are written together as one immutable batch object
// (each document addressable on its own by byte range, with its own
// SHA-256 in the index). The rows, with their origins, are committed in
// one transaction after the object is durable. As with single issuance,
// a failure between the two leaves only an unreachable object.
//
// The returned error is the hub's own failure (store, object store, seal):
// nothing of the batch was committed.
func (s *Service) IssueBatch(ctx context.Context, sc Scope, reqs []*IssueRequest) ([]BatchResult, error) {
	p, err := s.PrepareBatch(ctx, sc, reqs)
	if err != nil {
		return nil, err
	}
	if err := p.Commit(ctx); err != nil {
		return nil, err
	}
	return p.Results, nil
}

// PreparedBatch is a batch issuance whose documents are sealed and durable
// in the object store but whose rows are not yet committed: nothing of it
// is visible until Commit. A batch never committed leaves only
// unreachable objects (and unused serials), as a crash would.
type PreparedBatch struct {
	// Results are IssueBatch's, one per request; the certificates in them
	// exist once Commit has returned nil.
	Results []BatchResult
	svc     *Service
	certs   []*Certificate
}

// Len is the number of certificates the batch will issue.
func (p *PreparedBatch) Len() int { return len(p.certs) }

// Commit writes the batch's rows and origins in one transaction.
func (p *PreparedBatch) Commit(ctx context.Context) error {
	if len(p.certs) == 0 {
		return nil
	}
	t := time.Now()
	if err := p.svc.Store.InsertCertificates(ctx, p.certs); err != nil {
		return err
	}
	if p.svc.Log != nil {
		p.svc.Log.DebugContext(ctx, "batch rows", "rows", len(p.certs), "insert", time.Since(t))
	}
	return nil
}

// PrepareBatch is IssueBatch up to its commit: validation, serials, status
// entries, seals and the batch objects. A connector prepares its next
// batch while the last one commits.
func (s *Service) PrepareBatch(ctx context.Context, sc Scope, reqs []*IssueRequest) (*PreparedBatch, error) {
	results := make([]BatchResult, len(reqs))
	type group struct {
		t     *Type
		a     *Authority
		items []int
	}
	groups := map[string]*group{}
	for i, r := range reqs {
		t, a, fault, err := s.prepare(ctx, sc, r)
		if err != nil {
			return nil, err
		}
		if fault != nil {
			results[i].Err = fault
			continue
		}
		k := t.Code + "." + a.Code
		if groups[k] == nil {
			groups[k] = &group{t: t, a: a}
		}
		groups[k].items = append(groups[k].items, i)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var all []*Certificate
	for _, k := range keys {
		g := groups[k]
		first, err := s.Store.NextSerials(ctx, g.t.Code, g.a.Code, len(g.items))
		if err != nil {
			return nil, err
		}
		now := s.now()
		started := time.Now()
		batch := make([]*Certificate, len(g.items))
		docs := make([][]byte, len(g.items))
		for n, i := range g.items {
			r := reqs[i]
			ident := Identifier{TypeCode: g.t.Code, Issuer: g.a.Code, Serial: fmt.Sprintf("%06d", first+int64(n)), Version: 1}
			batch[n] = &Certificate{ID: ident.String(), Ident: ident, Type: g.t.Code, Authority: g.a.Code, Serial: ident.Serial, Version: 1,
				Holder: r.Holder, Data: r.Data, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil, State: StateValid,
				IssuedAt: now, UpdatedAt: now, Origin: r.Origin}
			results[i].Certificate = batch[n]
		}
		if err := s.allocateStatus(ctx, batch); err != nil {
			return nil, err
		}
		// Sealing is independent per document: spread it over the cores,
		// all with the key that is active now.
		seal, err := s.Keys.Sealer(ctx, g.a.Code)
		if err != nil {
			return nil, err
		}
		workers := min(runtime.GOMAXPROCS(0), len(batch))
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func(w int) {
				for n := w; n < len(batch); n += workers {
					c := batch[n]
					c.HolderIndex = s.Vault.Index(string(c.Holder.Kind), c.Holder.ID)
					c.HolderSealed = s.Vault.Seal(string(c.Holder.Kind), c.Holder.ID)
					payload, err := buildCredential(c, g.t, g.a, s.Location, s.PublicURL)
					if err != nil {
						errc <- err
						return
					}
					doc, kid, err := seal(payload)
					if err != nil {
						errc <- err
						return
					}
					sum := sha256.Sum256(doc)
					c.KID, c.DocumentSHA256, docs[n] = kid, hex.EncodeToString(sum[:]), doc
				}
				errc <- nil
			}(w)
		}
		for w := 0; w < workers; w++ {
			if err := <-errc; err != nil {
				return nil, err
			}
		}
		var object bytes.Buffer
		size := 0
		for _, d := range docs {
			size += len(d) + 1
		}
		object.Grow(size) // one allocation: growing by doubling cleared and copied 3 MB a batch
		for n, c := range batch {
			c.DocumentOffset, c.DocumentLength = int64(object.Len()), int64(len(docs[n]))
			object.Write(docs[n])
			object.WriteByte('\n')
		}
		sum := sha256.Sum256(object.Bytes())
		key := fmt.Sprintf("batches/%s/%s/%s-%s.jwsl", g.t.Code, g.a.Code, batch[0].Serial, hex.EncodeToString(sum[:8]))
		sealed := time.Now()
		if err := s.Documents.Put(ctx, key, object.Bytes()); err != nil {
			return nil, err
		}
		if s.Log != nil {
			s.Log.DebugContext(ctx, "batch object", "key", key, "documents", len(batch), "bytes", object.Len(),
				"seal", sealed.Sub(started), "put", time.Since(sealed))
		}
		for _, c := range batch {
			c.DocumentKey = key
		}
		all = append(all, batch...)
	}
	return &PreparedBatch{Results: results, svc: s, certs: all}, nil
}

// DocumentFinding is a certificate version whose recorded location does
// not give back its document.
type DocumentFinding struct {
	Ref     DocumentRef  // the location as recorded
	Problem string       // why it does not read back
	Fix     *DocumentRef // where its document was found, hash checked; nil: nowhere
	Fixed   bool         // the row now points at Fix (never in a dry run)
}

// DocumentCheck counts what CheckDocuments saw.
type DocumentCheck struct {
	Checked      int // versions read back
	Broken       int // versions whose location did not give back their document
	Fixed        int // of those, pointed at where their document is
	Unrepairable int // of those, whose document was nowhere in their object
}

// CheckDocuments reads back the document of every certificate version
// (superseded ones included) at its recorded location, a page at a time in
// Seq order, and checks it against the recorded SHA-256.
//
// A version whose bytes do not match may still have its document in the
// same object: revisions of bulk-issued certificates were once stored with
// the batch member's offset and length although their document is a
// standalone object (issue 10). Such a document is looked for as the whole
// object, then as each line of a batch object; one found with the
// recorded SHA-256 is a Fix, and with repair the row is pointed at it. A
// version whose document is not found is reported and never changed. A
// second run after a repair finds nothing to do.
//
// found is called with each finding (after its repair); an error from
// found stops the check. The returned error is the hub's own failure
// (store or object store): the counts then cover what was checked so far.
func (s *Service) CheckDocuments(ctx context.Context, repair bool, found func(DocumentFinding) error) (DocumentCheck, error) {
	var sum DocumentCheck
	// Members of one batch are consecutive in Seq: read their object once.
	var batchKey string
	var batchObj []byte
	var after int64
	const page = 1000
	for {
		refs, err := s.Store.DocumentRefs(ctx, after, page)
		if err != nil {
			return sum, err
		}
		for _, ref := range refs {
			after = ref.Seq
			sum.Checked++
			var obj []byte
			if ref.Length > 0 && ref.Key == batchKey {
				obj = batchObj
			} else {
				obj, err = s.Documents.Get(ctx, ref.Key)
				if err != nil && !errs.Is(err, errs.NotFound) {
					return sum, err
				}
				if ref.Length > 0 && err == nil {
					batchKey, batchObj = ref.Key, obj
				}
			}
			f := DocumentFinding{Ref: ref}
			switch {
			case obj == nil:
				f.Problem = fmt.Sprintf("object %s is missing", ref.Key)
			default:
				f.Problem = locationProblem(obj, ref)
				if f.Problem != "" {
					f.Fix = findDocument(obj, ref)
				}
			}
			if f.Problem == "" {
				continue
			}
			sum.Broken++
			if f.Fix == nil {
				sum.Unrepairable++
			} else if repair {
				if err := s.Store.SetDocumentLocation(ctx, *f.Fix); err != nil {
					return sum, err
				}
				f.Fixed = true
				sum.Fixed++
			}
			if err := found(f); err != nil {
				return sum, err
			}
		}
		if len(refs) < page {
			return sum, nil
		}
	}
}

// locationProblem says why ref's location in obj does not give back its
// document, or "" when it does.
func locationProblem(obj []byte, ref DocumentRef) string {
	doc := obj
	if ref.Length > 0 {
		if ref.Offset < 0 || ref.Offset+ref.Length > int64(len(obj)) {
			return fmt.Sprintf("range %d+%d lies beyond the end of the object (%d bytes)", ref.Offset, ref.Length, len(obj))
		}
		doc = obj[ref.Offset : ref.Offset+ref.Length]
	}
	if hashHex(doc) == ref.SHA256 {
		return ""
	}
	if ref.Length > 0 {
		return fmt.Sprintf("bytes %d+%d do not hash to the recorded SHA-256", ref.Offset, ref.Length)
	}
	return "object does not hash to the recorded SHA-256"
}

// findDocument looks for ref's document in obj: the whole object, or one
// line of a batch object. It returns the location only when the bytes
// there hash to ref.SHA256.
func findDocument(obj []byte, ref DocumentRef) *DocumentRef {
	if hashHex(obj) == ref.SHA256 {
		fix := ref
		fix.Offset, fix.Length = 0, 0
		return &fix
	}
	var off int64
	for line := range bytes.SplitSeq(obj, []byte{'\n'}) {
		if len(line) > 0 && hashHex(line) == ref.SHA256 {
			fix := ref
			fix.Offset, fix.Length = off, int64(len(line))
			return &fix
		}
		off += int64(len(line)) + 1
	}
	return nil
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
