package certificates

import (
	"context"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
)

// StatusEntry is a status list entry of a version that is not valid.
type StatusEntry struct {
	Index int
	State State
}

// statusSize is the size of the lists the service opens.
func (s *Service) statusSize() int {
	if s.StatusListSize > 0 {
		return s.StatusListSize
	}
	return statuslist.MinSize
}

// allocateStatus gives versions their status list entries, when the hub
// has a public URL for the lists (a tool without one, such as gen, issues
// documents without status references, like those from before issue 13).
func (s *Service) allocateStatus(ctx context.Context, cs []*Certificate) error {
	if s.PublicURL == "" || len(cs) == 0 {
		return nil
	}
	refs, err := s.Store.AllocateStatus(ctx, s.statusSize(), len(cs), s.now())
	if err != nil {
		return err
	}
	if len(refs) != len(cs) {
		return errs.E(errs.Internal, "status list allocation returned %d entries for %d versions", len(refs), len(cs))
	}
	for i, c := range cs {
		r := refs[i]
		c.Status = &r
	}
	return nil
}

// StatusOf is a state's entry in the status lists: revoked and superseded
// versions are Invalid, suspended ones Suspended, everything else Valid.
// Expiry is not written: it is in the document.
func StatusOf(st State) statuslist.Status {
	switch st {
	case StateRevoked, StateSuperseded:
		return statuslist.Invalid
	case StateSuspended:
		return statuslist.Suspended
	}
	return statuslist.Valid
}

// StatusList builds status list number list as it stands in the store;
// errs.NotFound if there is no such list.
func (s *Service) StatusList(ctx context.Context, list int) (*statuslist.List, error) {
	size, entries, err := s.Store.StatusEntries(ctx, list)
	if err != nil {
		return nil, err
	}
	l, err := statuslist.New(size)
	if err != nil {
		return nil, errs.Wrap(err, "status list %d", list)
	}
	for _, e := range entries {
		if err := l.Set(e.Index, StatusOf(e.State)); err != nil {
			return nil, errs.Wrap(err, "status list %d", list)
		}
	}
	return l, nil
}
