package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/certhub/certhub/internal/errs"
)

// describe lists every field problem of a validation error, one per line.
func describe(err error) error {
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Fields) < 2 {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Fields))
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Reason)
	}
	return errors.New(b.String())
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 16<<20)) }
