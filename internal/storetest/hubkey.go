package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// testHubKeys: the hub key's generations rotate in two phases with exactly
// one active at any time; two replicas activating the same generation do
// it once; the time the parent first vouched for a key is kept.
func testHubKeys(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	recs, err := s.HubKeys(ctx)
	must(t, err)
	if len(recs) != 0 {
		t.Fatalf("a new store has hub key generations %+v", recs)
	}
	master, _ := signing.GenerateMasterKey()
	a, err := signing.NewHubKey(master)
	must(t, err)
	b, err := signing.NewHubKey(master) // another replica
	must(t, err)
	gen1 := a.KID()

	r, err := a.Rotate(ctx, s, t0)
	must(t, err)
	_, err = b.Rotate(ctx, s, t0)
	mustCode(t, errs.Conflict, err)
	must(t, s.VouchHubKey(ctx, r.Generation, t0.Add(time.Minute)))
	must(t, s.VouchHubKey(ctx, r.Generation, t0.Add(time.Hour))) // kept from the first time
	recs, err = s.HubKeys(ctx)
	must(t, err)
	if len(recs) != 2 || recs[0].Generation != 1 || recs[0].State != signing.HubKeyActive || !recs[0].CreatedAt.Equal(t0) ||
		recs[1].Generation != 2 || recs[1].State != signing.HubKeyInactive || recs[1].VouchedAt == nil || !recs[1].VouchedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("generations after a rotation: %+v", recs)
	}
	must(t, b.Load(ctx, s, t0))
	if b.KID() != gen1 || len(b.Published()) != 2 {
		t.Fatalf("replica: active %s, published %+v", b.KID(), b.Published())
	}

	t1 := t0.Add(10 * time.Minute)
	got, err := a.Activate(ctx, s, t1)
	must(t, err)
	mustCode(t, errs.Conflict, s.ActivateHubKey(ctx, got.Generation, t1)) // the other replica, a moment later
	_, err = b.Activate(ctx, s, t1)
	mustCode(t, errs.NotFound, err) // nothing is waiting any more
	recs, err = s.HubKeys(ctx)
	must(t, err)
	if recs[0].State != signing.HubKeyRetired || recs[0].RetiredAt == nil || !recs[0].RetiredAt.Equal(t1) ||
		recs[1].State != signing.HubKeyActive || recs[1].ActivatedAt == nil || !recs[1].ActivatedAt.Equal(t1) {
		t.Fatalf("generations after activation: %+v", recs)
	}
	if b.KID() != a.KID() || a.KID() == gen1 {
		t.Fatalf("active keys %s and %s after activation (gen 1 %s)", a.KID(), b.KID(), gen1)
	}
	// The database itself refuses a second active generation.
	err = s.AddHubKey(ctx, signing.HubKeyRecord{Generation: 3, State: signing.HubKeyActive, CreatedAt: t1})
	if err == nil {
		t.Fatal("a second active generation was stored")
	}
}
