package exchange

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// BundleLine is one line of a ledger bundle (JSON Lines). Two kinds of
// bundle share it: an auditor's export (`certhub audit export`: a key
// line, checkpoints, and the entries from seq 1) and an archived month
// (`certhub audit archive`: the same lines, plus an archive line saying
// which entries it holds and the hash of the entry before them, so that it
// verifies on its own). docs/operations.md describes the format.
type BundleLine struct {
	Kind       string          `json:"kind"` // key, archive, checkpoint, entry
	Key        string          `json:"key,omitempty"`
	Origin     string          `json:"origin,omitempty"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	At         time.Time       `json:"at,omitzero"` // when the checkpoint was signed (not part of what is signed)
	Seq        int64           `json:"seq,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
	Hash       string          `json:"hash,omitempty"`
	// An archive line: the month (YYYY-MM, UTC), its first and last
	// entries, and the hash of the entry before the first (64 zeros
	// before entry 1).
	Month string `json:"month,omitempty"`
	First int64  `json:"first,omitempty"`
	Last  int64  `json:"last,omitempty"`
	Prev  string `json:"prev,omitempty"`
}

// Bundle is a bundle as read.
type Bundle struct {
	Key, Origin string
	Checkpoints []*Checkpoint
	Records     []LedgerRecord
	// Archive is the archive line of an archived month; nil for an export.
	Archive *BundleLine
}

// ReadBundle reads a bundle; a line that is not JSON is an error naming
// its line number.
func ReadBundle(r io.Reader) (*Bundle, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	b := &Bundle{}
	for n := 1; sc.Scan(); n++ {
		var l BundleLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("bundle line %d: %w", n, err)
		}
		switch l.Kind {
		case "key":
			b.Key, b.Origin = l.Key, l.Origin
		case "archive":
			a := l
			b.Archive = &a
		case "checkpoint":
			b.Checkpoints = append(b.Checkpoints, &Checkpoint{Note: []byte(l.Checkpoint), At: l.At})
		case "entry":
			b.Records = append(b.Records, LedgerRecord{Seq: l.Seq, Body: l.Body, Hash: l.Hash})
		default:
			return nil, fmt.Errorf("bundle line %d: kind %q is not key, archive, checkpoint or entry", n, l.Kind)
		}
	}
	return b, sc.Err()
}

// Verify checks the bundle with v (the ledger's verifier key): an export
// from entry 1, an archived month from its first entry on the hash of the
// one before. An archived month must hold exactly the entries its archive
// line names and carry a signed checkpoint at its last entry, so that
// neither end can be cut off unseen.
func (b *Bundle) Verify(ctx context.Context, v note.Verifier) (*VerifyReport, error) {
	first, prev := int64(1), ""
	if a := b.Archive; a != nil {
		first, prev = a.First, a.Prev
		if a.First < 1 || a.Last < a.First {
			return &VerifyReport{Problem: fmt.Sprintf("archive line: first %d, last %d: not a range of entries", a.First, a.Last)}, nil
		}
		if n := int64(len(b.Records)); n != a.Last-a.First+1 {
			return &VerifyReport{Problem: fmt.Sprintf("archived month %s should hold entries %d to %d (%d) but holds %d", a.Month, a.First, a.Last, a.Last-a.First+1, n)}, nil
		}
	}
	rep, err := VerifyChainFrom(ctx, b.Origin, v, b.Checkpoints, first, prev, func(fn func(LedgerRecord) error) error {
		for _, r := range b.Records {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}, first)
	if err != nil || !rep.OK || b.Archive == nil {
		return rep, err
	}
	for _, c := range b.Checkpoints {
		if size, _, err := OpenCheckpoint(c.Note, b.Origin, v); err == nil && size == b.Archive.Last {
			return rep, nil
		}
	}
	rep.OK, rep.FirstBad = false, b.Archive.Last
	rep.Problem = fmt.Sprintf("archived month %s has no signed checkpoint at its last entry %d", b.Archive.Month, b.Archive.Last)
	return rep, nil
}
