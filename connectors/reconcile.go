package connectors

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Reconciliation is the report of a full scan: the records certhub brought
// in that the source no longer has.
type Reconciliation struct {
	Connector string     `json:"connector"`
	At        time.Time  `json:"at"`
	Scanned   int64      `json:"scanned"`
	Vanished  []Vanished `json:"vanished"`
}

// Reconcile reads the whole source from the beginning (whatever the saved
// cursor, and committing nothing: files stay where they are) and reports
// the records brought in earlier that it did not see. It changes no
// certificate: whether a vanished record means a revocation is for people
// to decide. Memory stays flat: what was seen is marked in the database.
func (e *Engine) Reconcile(ctx context.Context, name string) (*Reconciliation, error) {
	d, _, err := e.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	kind, ok := e.Kinds[d.Kind]
	if !ok {
		return nil, errs.E(errs.Invalid, "connector %s has unknown kind %q", name, d.Kind)
	}
	src, err := kind.Open(ctx, d.Source)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(interface{ Close() error }); ok {
		defer c.Close()
	}
	token := fmt.Sprintf("scan_%d", e.now().UnixNano())
	rep := &Reconciliation{Connector: name, At: e.now()}
	cursor := ""
	for {
		b, err := src.Fetch(ctx, cursor, d.BatchSize)
		if err != nil {
			return nil, d.sourceError(err)
		}
		keys := make([]string, 0, len(b.Records))
		for _, r := range b.Records {
			// A key that fails the text rule was never brought in.
			if k, ok := d.keyOf(r); ok && certificates.LineProblem(k) == "" {
				keys = append(keys, k)
			}
		}
		if err := e.Store.MarkSeen(ctx, name, keys, token); err != nil {
			return nil, err
		}
		rep.Scanned += int64(len(b.Records))
		if !b.More {
			break
		}
		cursor = b.Cursor
	}
	if rep.Vanished, err = e.Store.Unseen(ctx, name, token); err != nil {
		return nil, err
	}
	if rep.Vanished == nil {
		rep.Vanished = []Vanished{}
	}
	e.Log.InfoContext(ctx, "connector reconciled", "connector", name, "scanned", rep.Scanned, "vanished", len(rep.Vanished))
	return rep, nil
}

// keyOf extracts a record's key as Apply does, without the rest.
func (d *Definition) keyOf(r Record) (string, bool) {
	var parts []string
	for _, k := range d.Mapping.Key {
		v, ok := FieldAt(r.Fields, k)
		s := trimAll(text(v))
		if !ok || s == "" {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "|"), true
}
