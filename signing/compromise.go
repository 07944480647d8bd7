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
	m.marks.Delete(kid)
	return m.store.GetKey(ctx, kid)
}

// CompromiseFresh is how long a key's compromise mark, as read from the
// store, is believed before it is read again: a mark made on another
// replica counts on this one within it (on this one, at once).
const CompromiseFresh = 250 * time.Millisecond

// compromiseMark is a key's compromise instant as read at a time.
type compromiseMark struct {
	from *time.Time
	read time.Time
}

// Compromised reports whether a document that kid sealed at sealedAt is
// past its key's compromise instant. The mark is read from the store at
// most every CompromiseFresh (not the process's key cache, which never
// changes): every verification reads it, and it changes once in a key's
// life.
func (m *Manager) Compromised(ctx context.Context, kid string, sealedAt time.Time) (bool, error) {
	now := time.Now()
	if v, ok := m.marks.Load(kid); ok {
		if mk := v.(compromiseMark); now.Sub(mk.read) < CompromiseFresh && !now.Before(mk.read) {
			return mk.from != nil && !sealedAt.Before(*mk.from), nil
		}
	}
	k, err := m.store.GetKey(ctx, kid)
	if err != nil {
		return false, err
	}
	m.marks.Store(kid, compromiseMark{from: k.CompromisedFrom, read: now})
	return k.CompromisedFrom != nil && !sealedAt.Before(*k.CompromisedFrom), nil
}
