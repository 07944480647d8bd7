package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/sqlite"
)

// TestBackfillAfterRestore: the city is restored from a backup twice.
// The first time the county still holds every event after the backup's
// point: it pushes again from there (409), no backfill. The second time
// the events after it are pruned at the county: the county starts its
// backfill over, and the city gives the versions it holds the states the
// pages carry. Both times the city ends with every version once, in the
// county's state.
func TestBackfillAfterRestore(t *testing.T) {
	c := &clock{time.Now().UTC()}
	_, city, county, _ := federation3(t, c)
	ctx := context.Background()
	keeper(t, city)
	county.svc.Client = &http.Client{Transport: hubs{"city.example": city}}
	docs, vault, cert := countyRegistry(t, county, c)
	var all []*certificates.Certificate
	for i := 1; i <= 3; i++ {
		ct := cert(fmt.Sprintf("%06d", i), 1)
		ct.DocumentKey = "documents/" + ct.ID
		noErr(t, docs.Put(ctx, ct.DocumentKey, []byte(fakeDocument(ct.ID))))
		all = append(all, ct)
	}
	noErr(t, county.store.InsertCertificates(ctx, all))
	a, b, d := all[0], all[1], all[2]
	agg := &federation.Aggregator{Service: county.svc, Store: county.store, Certs: &certificates.Service{Store: county.store, Vault: vault, Documents: docs},
		Documents: docs, Owner: "county-1"}
	pushAll := func() {
		t.Helper()
		for range 10 {
			n, err := agg.PushOnce(ctx)
			noErr(t, err)
			c.t = c.t.Add(exchange.EventSettle + time.Second) // a new mark settles
			if n == 0 {
				if n, err = agg.PushOnce(ctx); err == nil && n == 0 {
					return
				}
				noErr(t, err)
			}
		}
		t.Fatal("the county keeps pushing")
	}
	set := func(ct *certificates.Certificate, from, to certificates.State) {
		t.Helper()
		_, err := county.store.SetState(ctx, ct.ID, []certificates.State{from}, to, "原因", c.now(), nil)
		noErr(t, err)
	}
	want := map[string]certificates.State{a.ID: certificates.StateValid, b.ID: certificates.StateValid, d.ID: certificates.StateValid}
	check := func(what string) {
		t.Helper()
		vs := must(city.store.FederatedVersions(ctx, "330102"))
		if len(vs) != len(want) {
			t.Fatalf("%s: the city holds %d versions, want %d", what, len(vs), len(want))
		}
		for _, v := range vs {
			if v.State != want[v.ID] {
				t.Errorf("%s: the city holds %s %s, want %s", what, v.ID, v.State, want[v.ID])
			}
		}
	}
	dir := t.TempDir()
	backup := func(name string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		_, err := city.store.DB().Exec(ctx, fmt.Sprintf("VACUUM INTO '%s'", path))
		noErr(t, err)
		return path
	}
	restore := func(path string) {
		t.Helper()
		st, err := sqlite.Open(ctx, path)
		noErr(t, err)
		t.Cleanup(st.Close)
		city.store, city.svc.Store, city.svc.Catalog, city.svc.Inbox = st, st, st, st
	}
	round := func() int {
		t.Helper()
		return must(county.store.Backfill(ctx)).Round
	}
	pushAll()
	check("after the backfill")

	// Restored once: the events after its point are all at the county.
	first := backup("first.db")
	set(b, certificates.StateValid, certificates.StateRevoked)
	want[b.ID] = certificates.StateRevoked
	pushAll()
	check("before the first restore")
	restore(first)
	if v := must(city.store.FederatedVersion(ctx, b.ID)); v.State != certificates.StateValid {
		t.Fatalf("the restored city holds %s", v.State)
	}
	set(d, certificates.StateValid, certificates.StateSuspended) // the county has something to push
	want[d.ID] = certificates.StateSuspended
	pushAll()
	check("after the first restore")
	if r := round(); r != 1 {
		t.Fatalf("the backfill started over (round %d) although every event was there", r)
	}

	// Restored again, and the county pruned the events after its point.
	second := backup("second.db")
	set(a, certificates.StateValid, certificates.StateRevoked)
	want[a.ID] = certificates.StateRevoked
	pushAll()
	check("before the second restore")
	evs := must(county.store.EventsAfter(ctx, 0, 100, c.now()))
	if _, ok, err := county.store.LeaseDispatch(ctx, "webhooks", c.now(), c.now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("dispatch lease: %v %v", ok, err)
	}
	noErr(t, county.store.Fanout(ctx, "webhooks", nil, evs[len(evs)-1].Seq))
	noErr(t, county.store.Prune(ctx, c.now().Add(time.Hour)))
	if p := must(county.store.PrunedThrough(ctx)); p != evs[len(evs)-1].Seq {
		t.Fatalf("the county pruned through %d", p)
	}
	restore(second)
	set(d, certificates.StateSuspended, certificates.StateValid)
	want[d.ID] = certificates.StateValid
	pushAll()
	check("after the second restore")
	bf := must(county.store.Backfill(ctx))
	if bf.Round != 2 || !bf.Done || !strings.Contains(bf.Reason, "pruned") {
		t.Fatalf("the county's backfill after the second restore: %+v", bf)
	}
	county.svc.Inbox = county.store // as certhub serve sets it
	st := must(county.svc.Status(ctx))
	if st.Backfill == nil || st.Backfill.Round != 2 || st.Backfill.Reason != bf.Reason {
		t.Fatalf("the county's status shows the backfill as %+v", st.Backfill)
	}
}
