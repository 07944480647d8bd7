package certificates

import "context"

type staleKey struct{}

// WithStaleReads marks a read that may be answered from a copy of the
// database a moment behind it (a streaming replica): lookups, lists and
// reports. Nothing that decides a verification, a lifecycle change, an
// agreement or a resolution is so marked: those read the primary, so a
// revocation is never answered as valid (docs/operations.md, Read
// replicas).
func WithStaleReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, staleKey{}, true)
}

// StaleReadsOK reports whether ctx was marked by WithStaleReads.
func StaleReadsOK(ctx context.Context) bool {
	ok, _ := ctx.Value(staleKey{}).(bool)
	return ok
}
