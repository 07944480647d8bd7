package exchange

import (
	"context"
	"sync"
	"time"
)

// TokenTTL is how long TokenCache keeps a token it read: a token revoked
// on another replica is refused here at most this long after.
const TokenTTL = time.Second

// TokenCache keeps the API tokens that authenticated on this replica in
// the last TokenTTL, so that a department system's call does not begin
// with a database round trip for its credential (it was the most called
// statement under lookups: docs/benchmarks.md, "Two round trips fewer").
// A revocation through this cache (RevokeToken, or Registry.RevokeConsumer
// with the cache as its Tokens) forgets every token at once, so this
// replica refuses a revoked token from its next request; another replica
// learns of it within TokenTTL, as it learns of a consumer's agreements
// within AgreementTTL.
//
// Only tokens found are kept, revoked ones too (they are refused from
// memory); an unknown secret is looked up each time, so guessing fills
// nothing. The tokens returned are shared and must not be changed.
type TokenCache struct {
	TokenStore

	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	t  *Token
	at time.Time
}

// TokenByHash implements TokenStore from memory when it can.
func (c *TokenCache) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	now := time.Now()
	c.mu.Lock()
	ct, ok := c.tokens[hash]
	c.mu.Unlock()
	if ok && now.Sub(ct.at) < TokenTTL {
		return ct.t, nil
	}
	t, err := c.TokenStore.TokenByHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.tokens == nil || len(c.tokens) >= 10000 {
		c.tokens = map[string]cachedToken{}
	}
	c.tokens[hash] = cachedToken{t: t, at: now}
	c.mu.Unlock()
	return t, nil
}

// RevokeToken implements TokenStore and forgets every token kept.
func (c *TokenCache) RevokeToken(ctx context.Context, id string, at time.Time) error {
	err := c.TokenStore.RevokeToken(ctx, id, at)
	c.Forget()
	return err
}

// Forget drops every token kept: the next use of each is read again.
func (c *TokenCache) Forget() {
	c.mu.Lock()
	c.tokens = nil
	c.mu.Unlock()
}
