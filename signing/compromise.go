package signing

import (
	"context"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// ReasonKeyCompromised says a document was sealed, by its seal time, at or
// after the instant from which its key is marked compromised.
const ReasonKeyCompromised = "key_compromised"

// KeyCompromised is the trust list's state of a key marked compromised.
const KeyCompromised KeyStatus = "compromised"

// Compromise marks a seal key compromised from the instant from on. from may
// be now or in the past, not in the future: an exposure is a known fact about
// what has happened, and a future instant would leave documents sealed
// until then trusted under a key already known to be exposed (to stop a key
// from sealing, rotate it). errs.Invalid naming "from" otherwise (or
// "reason", over 500 characters); errs.NotFound if kid is unknown.
func (m *Manager) Compromise(ctx context.Context, kid string, from time.Time, reason string) (*Key, error) {
	if from.IsZero() {
		return nil, errs.Field("from", "is required (an RFC 3339 time)")
	}
	if from.After(m.now()) {
		return nil, errs.Field("from", "%s is in the future; a key is marked compromised from now or an earlier instant", from.Format(time.RFC3339))
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 {
		return nil, errs.Field("reason", "is longer than 500 characters")
	}
	if err := m.store.MarkCompromised(ctx, kid, from, reason); err != nil {
		return nil, err
	}
	return m.store.GetKey(ctx, kid)
}

// Compromised reports whether a document that kid sealed at sealedAt is
// past its key's compromise instant. The key is read from the store each
// time (not the process's key cache), so a mark made on one replica counts
// on every replica at once.
func (m *Manager) Compromised(ctx context.Context, kid string, sealedAt time.Time) (bool, error) {
	k, err := m.store.GetKey(ctx, kid)
	if err != nil {
		return false, err
	}
	return k.CompromisedFrom != nil && !sealedAt.Before(*k.CompromisedFrom), nil
}
