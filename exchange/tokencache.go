package exchange

import (
	"context"
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

	tokens ttlCache[string, *Token]
}

// TokenByHash implements TokenStore from memory when it can.
func (c *TokenCache) TokenByHash(ctx context.Context, hash string) (*Token, error) {
	return c.tokens.get(hash, time.Now(), TokenTTL, func() (*Token, error) { return c.TokenStore.TokenByHash(ctx, hash) })
}

// RevokeToken implements TokenStore and forgets every token kept.
func (c *TokenCache) RevokeToken(ctx context.Context, id string, at time.Time) error {
	err := c.TokenStore.RevokeToken(ctx, id, at)
	c.Forget()
	return err
}

// Forget drops every token kept: the next use of each is read again.
func (c *TokenCache) Forget() { c.tokens.forgetAll() }
