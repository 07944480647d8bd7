package exchange

import (
	"sync"
	"time"
)

// ttlCache keeps what a replica read from the store for a while (the ttl
// each get names), so that the checks on every call (its credential, its
// consumer's agreements, the service item it resolves) do not each begin
// with a database round trip. A change made through this replica forgets
// at once (forget, forgetAll), and a read that began before the forget is
// not kept;
// a change made on another replica shows here within the ttl. Only values
// the load found are kept: a key that is not there is read each time, so
// guessing keys fills nothing. It keeps at most ttlCacheMax keys, starting
// afresh when full. The zero value is ready to use.
type ttlCache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]ttlEntry[V]
	// gen counts forgets: a value loaded across one is not kept, since
	// it may have been read before the change the forget is for.
	gen uint64
}

type ttlEntry[V any] struct {
	v  V
	at time.Time
}

const ttlCacheMax = 10000

// get returns key's value kept since less than ttl before now, or else the
// value load reads, which it keeps from now on unless something was
// forgotten while load ran.
func (c *ttlCache[K, V]) get(key K, now time.Time, ttl time.Duration, load func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.Unlock()
	if age := now.Sub(e.at); ok && age >= 0 && age < ttl {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return v, nil
	}
	if c.m == nil || len(c.m) >= ttlCacheMax {
		c.m = map[K]ttlEntry[V]{}
	}
	c.m[key] = ttlEntry[V]{v: v, at: now}
	return v, nil
}

// forget drops key: its next get reads it again.
func (c *ttlCache[K, V]) forget(key K) {
	c.mu.Lock()
	delete(c.m, key)
	c.gen++
	c.mu.Unlock()
}

// forgetAll drops every key.
func (c *ttlCache[K, V]) forgetAll() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}
