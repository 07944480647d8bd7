package signing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// TestCompromise: from may be now or earlier, not later, and a bad
// instant stores nothing; a document sealed at the instant or after is
// compromised, one sealed a second before is not.
func TestCompromise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	master, _ := GenerateMasterKey()
	m := newTestManager(t, master, &memKeys{})
	k, err := m.CreateKey(ctx, "AUTH", ES256)
	if err != nil {
		t.Fatal(err)
	}
	now := m.now()
	for _, tc := range []struct {
		name string
		from time.Time
	}{{"zero", time.Time{}}, {"future", now.Add(time.Minute)}} {
		_, err := m.Compromise(ctx, k.KID, tc.from, "")
		var e *errs.Error
		if !errors.As(err, &e) || e.Field != "from" {
			t.Fatalf("%s: %v, want an error naming from", tc.name, err)
		}
	}
	if bad, err := m.Compromised(ctx, k.KID, now.Add(time.Hour)); err != nil || bad {
		t.Fatalf("a refused mark was stored: %v %v", bad, err)
	}
	from := now.Add(-time.Hour)
	if _, err := m.Compromise(ctx, k.KID, from, "test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{from.Add(-time.Second), false}, {from, true}, {now, true}} {
		if bad, err := m.Compromised(ctx, k.KID, tc.at); err != nil || bad != tc.want {
			t.Errorf("sealed at %v: compromised %v (%v), want %v", tc.at, bad, err, tc.want)
		}
	}
	if _, err := m.Compromise(ctx, "nope", from, ""); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
}
