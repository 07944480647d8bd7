package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// Source reads a department's records in a stable order, a batch at a
// time, after a cursor the source itself defines.
type Source interface {
	// Fetch returns up to limit records after cursor ("" = from the
	// start), the cursor after them, and whether more may follow now.
	// An error fails the run and leaves the saved cursor where it was.
	Fetch(ctx context.Context, cursor string, limit int) (*Batch, error)
}

// Batch is one read.
type Batch struct {
	Records []Record
	Cursor  string // where the next read starts
	More    bool   // more records are ready now
	Total   int64  // records left to read when the run began, -1 when unknown
	// Latest is the change time of the newest record of the batch, for
	// sources that know it (incremental ones); zero otherwise.
	Latest time.Time
	// Commit, if set, runs after the batch's outcome is saved (a file
	// source moves a finished file aside).
	Commit func(ctx context.Context) error
}

// Kind is a source kind: it checks its settings and opens sources.
type Kind interface {
	// Validate lists every problem with the source settings.
	Validate(settings json.RawMessage) []errs.FieldError
	// Open makes a source for a connector.
	Open(ctx context.Context, settings json.RawMessage) (Source, error)
}

// Kinds registers source kinds by name.
type Kinds map[string]Kind

func (k Kinds) names() string {
	var n []string
	for name := range k {
		n = append(n, name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// DecodeSettings reads a kind's settings strictly into v. A setting the
// kind does not know, or of the wrong JSON type, is reported by name; an
// empty list means v holds the settings.
func DecodeSettings(raw json.RawMessage, v any) []errs.FieldError {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return []errs.FieldError{{Field: te.Field, Reason: fmt.Sprintf("must be a JSON %s", te.Type.Kind())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return []errs.FieldError{{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Reason: "is not a known setting"}}
	case raw == nil || errors.Is(err, io.EOF):
		return []errs.FieldError{{Field: "", Reason: "settings are required"}}
	}
	return []errs.FieldError{{Field: "", Reason: strings.TrimPrefix(err.Error(), "json: ")}}
}
