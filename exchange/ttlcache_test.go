package exchange

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestTTLCache: a value is read once per ttl, an error is never kept, a
// forget makes the next get read again, and a read that was under way
// when something was forgotten is answered but not kept.
func TestTTLCache(t *testing.T) {
	var c ttlCache[string, int]
	t0 := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	loads := 0
	load := func(v int, err error) func() (int, error) {
		return func() (int, error) { loads++; return v, err }
	}
	get := func(key string, at time.Time, l func() (int, error), want, wantLoads int) {
		t.Helper()
		got, err := c.get(key, at, time.Second, l)
		if err != nil || got != want || loads != wantLoads {
			t.Fatalf("get %s at +%v: %d, %v after %d loads; want %d after %d", key, at.Sub(t0), got, err, loads, want, wantLoads)
		}
	}
	get("a", t0, load(1, nil), 1, 1)
	get("a", t0.Add(999*time.Millisecond), load(2, nil), 1, 1) // kept
	get("a", t0.Add(time.Second), load(2, nil), 2, 2)          // the ttl is over
	get("a", t0.Add(500*time.Millisecond), load(3, nil), 3, 3) // a clock gone back reads again

	boom := errors.New("store down")
	if _, err := c.get("b", t0, time.Second, load(0, boom)); !errors.Is(err, boom) || loads != 4 {
		t.Fatalf("a failed load: %v after %d loads", err, loads)
	}
	get("b", t0, load(5, nil), 5, 5) // the error was not kept

	c.forget("b")
	get("b", t0, load(6, nil), 6, 6)
	get("a", t0.Add(500*time.Millisecond), load(7, nil), 3, 6) // forget("b") left "a"
	c.forgetAll()
	get("a", t0.Add(500*time.Millisecond), load(8, nil), 8, 7)

	// A read under way across a forget: its (possibly stale) value is
	// answered, and the next get reads again.
	get("c", t0, func() (int, error) { c.forgetAll(); loads++; return 9, nil }, 9, 8)
	get("c", t0, load(10, nil), 10, 9)
	get("c", t0, load(11, nil), 10, 9)

	// Full: it starts afresh rather than growing.
	c.forgetAll()
	for i := range ttlCacheMax + 1 {
		if _, err := c.get(strconv.Itoa(i), t0, time.Second, load(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n != 1 {
		t.Fatalf("%d keys kept after %d keys went in, want 1: a full cache starts afresh", n, ttlCacheMax+1)
	}
}
