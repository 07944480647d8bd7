package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/certificates"
)

// Replica is a streaming replica of the database that reads marked
// certificates.WithStaleReads may go to (internal/postgres watches one).
type Replica interface {
	// Reader returns the replica's querier when it is fit to answer now —
	// reachable, still a standby, and no further behind than allowed —
	// or nil: the read goes to the primary.
	Reader() Querier
	// State says how the replica stands, for /readyz.
	State() ReplicaState
	// Close stops watching it and closes its pool.
	Close()
}

// ReplicaState is how a read replica stands.
type ReplicaState struct {
	// Status is "ok", "lagging", "unreachable" or "promoted" (no longer a
	// standby: it receives no changes from the primary any more).
	Status string `json:"status"`
	// Lag is how far its replay was behind the primary at the last look.
	Lag time.Duration `json:"-"`
	// Detail says why it is not used.
	Detail string `json:"detail,omitempty"`
	// Checked is when it was last looked at.
	Checked time.Time `json:"checked"`
}

// UseReplica sends reads marked certificates.WithStaleReads to r while it
// is fit; Close closes it with the store.
func (s *Store) UseReplica(r Replica) { s.replica = r }

// ReplicaStatus reports how the read replica stands ("ok", "lagging",
// "unreachable", "promoted") and why it is not used; ok is false when there
// is none.
func (s *Store) ReplicaStatus() (status, detail string, ok bool) {
	if s.replica == nil {
		return "", "", false
	}
	st := s.replica.State()
	return st.Status, st.Detail, true
}

// read is where a read goes: the replica when ctx allows a stale read and
// the replica is fit, else the primary.
func (s *Store) read(ctx context.Context) Querier {
	if s.replica != nil && certificates.StaleReadsOK(ctx) {
		if q := s.replica.Reader(); q != nil {
			return q
		}
	}
	return s.db
}
