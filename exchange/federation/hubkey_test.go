package federation_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange/federation"
)

func keyStates(e *federation.Entry) map[string]string {
	out := map[string]string{}
	for _, k := range e.Keys {
		out[k.KID] = k.State
	}
	return out
}

// TestHubKeyRotation: a county publishes a new key beside its old one; it
// activates it only once its parent's directory lists it and two refresh
// cycles have passed; statements signed by either key verify everywhere
// meanwhile, and the parent takes the new states from a description the
// new key signed. The root's key is activated only by its operator, and
// hubs follow it through a root key file that lists both keys.
func TestHubKeyRotation(t *testing.T) {
	c := &clock{time.Now()}
	prov, city, county, root := federation3(t, c)
	ctx := context.Background()
	const every = time.Minute
	county.svc.ActivateAfter = 5 * time.Minute
	old := county.key.KID()

	r := must(county.key.Rotate(ctx, county.store, c.now()))
	if got := must(county.svc.StepHubKey(ctx, every)); got != nil {
		t.Fatalf("activated %+v before the parent vouched for it", got)
	}
	// The county's description lists both; the city takes the new key in
	// because the admitted one signed it.
	must(city.svc.Admit(ctx, must(county.svc.Describe(ctx, federation.AdmissionTTL)), "refresh"))
	exchangeDirs(t, prov, city, county)
	v := must(federation.VerifyDirectory(must(prov.svc.Directory(ctx)), root, c.now(), false))
	if st := keyStates(v.Hub("330102")); st[old] != federation.KeyActive || st[r.KID] != federation.KeyInactive {
		t.Fatalf("the province's directory has the county's keys as %v", st)
	}
	// Seen vouched for: the clock starts; two cycles and the least wait later
	// it is activated.
	if got := must(county.svc.StepHubKey(ctx, every)); got != nil {
		t.Fatalf("activated at once when first vouched for: %+v", got)
	}
	c.t = c.t.Add(every)
	if got := must(county.svc.StepHubKey(ctx, every)); got != nil {
		t.Fatalf("activated one cycle after being vouched for: %+v", got)
	}
	c.t = c.t.Add(4 * every)
	got := must(county.svc.StepHubKey(ctx, every))
	if got == nil || got.Generation != 2 || county.key.KID() != r.KID {
		t.Fatalf("not activated after the wait: %+v, active %s", got, county.key.KID())
	}
	// Before the city hears of it, what the county signs with the new key
	// verifies with the entries everyone holds (the key listed inactive).
	kd := must(county.svc.Directory(ctx))
	if _, err := federation.VerifyDirectory(kd, root, c.now(), false); err != nil {
		t.Fatalf("the county's directory signed by its new key: %v", err)
	}
	must(city.svc.Admit(ctx, must(county.svc.Describe(ctx, federation.AdmissionTTL)), "refresh"))
	exchangeDirs(t, prov, city, county)
	v = must(federation.VerifyDirectory(must(prov.svc.Directory(ctx)), root, c.now(), false))
	if st := keyStates(v.Hub("330102")); st[old] != federation.KeyRetired || st[r.KID] != federation.KeyActive {
		t.Fatalf("after activation the province has the county's keys as %v", st)
	}

	// The root: published, never activated by the refresh loop.
	pr := must(prov.key.Rotate(ctx, prov.store, c.now()))
	c.t = c.t.Add(time.Hour)
	if got := must(prov.svc.StepHubKey(ctx, every)); got != nil {
		t.Fatalf("the root activated its key by itself: %+v", got)
	}
	both := must(prov.svc.Self(ctx)).Root
	if len(both.Keys) != 2 || !slices.ContainsFunc(both.Keys, func(k federation.RootKeyEntry) bool { return k.KID == pr.KID }) {
		t.Fatalf("the root key file while rotating: %+v", both)
	}
	if _, err := federation.ParseRootKey(must(jsonBytes(both))); err != nil {
		t.Fatal(err)
	}
	must(prov.key.Activate(ctx, prov.store, c.now()))
	prov.svc.Refresh(ctx)
	d := must(prov.svc.Directory(ctx))
	if _, err := federation.VerifyDirectory(d, root, c.now(), false); federation.ReasonOf(err) != federation.BadEntry {
		t.Fatalf("a directory of the rotated root with the old root key file: %v, want bad_entry", err)
	}
	if _, err := federation.VerifyDirectory(d, both, c.now(), false); err != nil {
		t.Fatalf("with the root key file that lists both keys: %v", err)
	}
	if p := must(prov.svc.Self(ctx)).Root; p.KID != pr.KID {
		t.Fatalf("the root key file names %s active, want %s", p.KID, pr.KID)
	}
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
