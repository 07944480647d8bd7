package exchange_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlite"
)

// TestTokenCache: two replicas' caches over one store. A token read is
// kept; revoked through one cache it is refused by that replica at once
// and by the other within TokenTTL; an unknown secret is not found.
func TestTokenCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	hash := exchange.HashSecret("chk_token-cache-test")
	if err := store.CreateToken(ctx, &exchange.Token{ID: "tok_1", Name: "窗口", Role: exchange.RoleClerk, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	a, b := &exchange.TokenCache{TokenStore: store}, &exchange.TokenCache{TokenStore: store}
	first, err := a.TokenByHash(ctx, hash)
	if err != nil || first.ID != "tok_1" || first.RevokedAt != nil {
		t.Fatalf("first read: %+v %v", first, err)
	}
	if again, _ := a.TokenByHash(ctx, hash); again != first {
		t.Fatal("a token read a moment ago was read again, not kept")
	}
	if kept, err := b.TokenByHash(ctx, hash); err != nil || kept.RevokedAt != nil {
		t.Fatalf("the other replica: %+v %v", kept, err)
	}
	revoked := time.Now()
	if err := a.RevokeToken(ctx, "tok_1", revoked.UTC()); err != nil {
		t.Fatal(err)
	}
	if got, err := a.TokenByHash(ctx, hash); err != nil || got.RevokedAt == nil {
		t.Fatalf("the revoking replica still answers %+v %v", got, err)
	}
	// The other replica may answer from memory for at most TokenTTL.
	for {
		late := time.Since(revoked) > exchange.TokenTTL
		got, err := b.TokenByHash(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokedAt != nil {
			break
		}
		if late {
			t.Fatalf("the other replica still answers the token unrevoked %s after", exchange.TokenTTL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := a.TokenByHash(ctx, exchange.HashSecret("chk_unknown")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if err := a.RevokeToken(ctx, "tok_none", time.Now()); !errs.Is(err, errs.NotFound) {
		t.Fatalf("revoking an unknown token: %v", err)
	}
}
