package federation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// HubKeyActivateAfter is the least time a published hub key waits before
// it is activated: relying parties cache the JWKS for 5 minutes.
const HubKeyActivateAfter = 10 * time.Minute

// StepHubKey moves a rotation of the hub key on (docs/federation.md,
// Rotating the hub key). It reloads the generations (another replica, or
// the CLI, may have changed them) and activates the published inactive
// key when every party can have learned it:
//
//   - a hub in no federation: once it was published ActivateAfter ago
//     (its JWKS readers cache the key set for minutes);
//   - a hub with a parent: once its parent's directory lists the key
//     (the parent read it from this hub's description, signed by the key
//     it admitted), and two refresh cycles (every) since this hub first
//     saw that, so every hub fetching directories holds it too, and at
//     least ActivateAfter since it was published;
//   - the root: never by itself. Every hub holds the root key file, given
//     out of band; the operator gives out the file listing the new key
//     (certhub federation root-key) and then activates it (certhub
//     hub-key activate).
//
// It returns the generation it activated, or nil.
func (s *Service) StepHubKey(ctx context.Context, every time.Duration) (*signing.HubKeyRecord, error) {
	if s.HubKeys == nil {
		return nil, nil
	}
	now := s.now()
	if err := s.Key.Load(ctx, s.HubKeys, now); err != nil {
		return nil, err
	}
	p, ok := s.Key.Pending()
	if !ok {
		return nil, nil
	}
	after := s.ActivateAfter
	if after <= 0 {
		after = HubKeyActivateAfter
	}
	self, err := s.loadSelf(ctx)
	switch {
	case errs.Is(err, errs.NotFound):
	case err != nil:
		return nil, err
	case self.IsRoot():
		return nil, nil
	default:
		if p.VouchedAt == nil {
			vouched, err := s.parentVouches(ctx, self, p.KID, now)
			if err != nil || !vouched {
				return nil, err
			}
			return nil, s.HubKeys.VouchHubKey(ctx, p.Generation, now.UTC())
		}
		if now.Sub(*p.VouchedAt) < 2*every {
			return nil, nil
		}
	}
	if now.Sub(p.CreatedAt) < after {
		return nil, nil
	}
	r, err := s.Key.Activate(ctx, s.HubKeys, now.UTC())
	if errs.Is(err, errs.Conflict) || errs.Is(err, errs.NotFound) {
		return nil, s.Key.Load(ctx, s.HubKeys, now) // another replica did
	}
	if err != nil {
		return nil, err
	}
	s.forget()
	if s.Log != nil {
		s.Log.InfoContext(ctx, "hub key activated", "generation", r.Generation, "kid", r.KID)
	}
	return &r, s.record(ctx, "hub_key_activate", "system", "", fmt.Sprintf("ok: generation %d (%s) signs from now on", r.Generation, r.KID))
}

// parentVouches reports whether the last good directory of this hub's
// parent lists kid for this hub.
func (s *Service) parentVouches(ctx context.Context, self *Self, kid string, now time.Time) (bool, error) {
	dirs, err := s.Store.Directories(ctx)
	if err != nil {
		return false, err
	}
	tok, ok := dirs[self.Parent]
	if !ok {
		return false, nil
	}
	v, err := VerifyDirectory(tok, self.Root, now, false)
	if err != nil {
		return false, nil // expired or refused: wait for a good one
	}
	e := v.Hub(self.ID)
	if e == nil || e.Signer != self.Parent {
		return false, nil
	}
	for _, k := range e.Keys {
		if k.KID == kid {
			return true, nil
		}
	}
	return false, nil
}

// describeKeys says a hub's keys for the ledger: "kid (state), …".
func describeKeys(keys []Key) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.KID + " (" + k.State + ")"
	}
	return "keys " + strings.Join(parts, ", ")
}
