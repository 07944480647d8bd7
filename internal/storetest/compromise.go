package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testKeyCompromise: a key starts unmarked; a mark reads back (instant and
// reason) through GetKey and ListKeys; a later mark keeps the earlier
// instant and takes the new reason, an earlier one moves the instant back;
// an unknown kid is not found; the key's other fields are unchanged.
func testKeyCompromise(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	k, err := s.GetKey(ctx, "kid-1")
	must(t, err)
	if k.CompromisedFrom != nil || k.CompromiseReason != "" {
		t.Fatalf("new key is marked compromised: %+v", k)
	}
	from := t0.Add(time.Hour)
	must(t, s.MarkCompromised(ctx, "kid-1", from, "备份介质遗失"))
	got, err := s.GetKey(ctx, "kid-1")
	must(t, err)
	if got.CompromisedFrom == nil || !got.CompromisedFrom.Equal(from) || got.CompromiseReason != "备份介质遗失" {
		t.Fatalf("marked key = from %v reason %q", got.CompromisedFrom, got.CompromiseReason)
	}
	if got.Status != k.Status || got.Documents != k.Documents || string(got.Sealed) != string(k.Sealed) {
		t.Fatalf("marking changed the key: %+v, was %+v", got, k)
	}
	must(t, s.MarkCompromised(ctx, "kid-1", from.Add(time.Hour), "later"))
	got, err = s.GetKey(ctx, "kid-1")
	must(t, err)
	if !got.CompromisedFrom.Equal(from) || got.CompromiseReason != "later" {
		t.Fatalf("a later mark moved the instant: from %v reason %q", got.CompromisedFrom, got.CompromiseReason)
	}
	earlier := t0.Add(time.Minute)
	must(t, s.MarkCompromised(ctx, "kid-1", earlier, ""))
	ks, err := s.ListKeys(ctx, authCode)
	must(t, err)
	if len(ks) != 1 || ks[0].CompromisedFrom == nil || !ks[0].CompromisedFrom.Equal(earlier) {
		t.Fatalf("after an earlier mark: %+v", ks)
	}
	mustCode(t, errs.NotFound, s.MarkCompromised(ctx, "nope", from, ""))
}
