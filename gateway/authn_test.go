package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

func TestAccessCacheIsBoundedAndHonoursExpiry(t *testing.T) {
	k, err := tokens.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := tokens.NewRing(k)
	now := time.Now()
	c := newAccessCache(ring, 64*10) // 10 a shard

	var toks []string
	for u := int64(1); u <= 2000; u++ {
		tok, _, _ := ring.IssueAccess(u, tokens.RoleFan, time.Hour, now)
		toks = append(toks, tok)
		a, err := c.verify([]byte(tok), now)
		if err != nil || a.UserID != u || a.Role != tokens.RoleFan {
			t.Fatalf("user %d: %+v, %v", u, a, err)
		}
	}
	size := 0
	for i := range c.shards {
		size += len(c.shards[i].m)
	}
	if size > 64*10 {
		t.Fatalf("the cache holds %d entries, over its 640", size)
	}
	// A cached token answers the same as a verified one.
	last := toks[len(toks)-1]
	if a, err := c.verify([]byte(last), now); err != nil || a.UserID != 2000 || !a.ExpiresAt.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("cached token: %+v, %v", a, err)
	}
	// Past its expiry a cached token is refused, and dropped.
	if _, err := c.verify([]byte(last), now.Add(2*time.Hour)); !errors.Is(err, tokens.ErrExpired) {
		t.Fatalf("expired cached token: %v, want token_expired", err)
	}
	// One changed byte is another token, which must verify on its own.
	forged := []byte(last)
	forged[len(forged)-2] ^= 1
	if _, err := c.verify(forged, now); err == nil {
		t.Fatal("a tampered copy of a cached token passed")
	}
	// Tokens the gateway signs are cached with their claims.
	ops, exp, _ := ring.IssueAccess(7, tokens.RoleOps, time.Hour, now)
	c.remember(ops, tokens.Access{UserID: 7, Role: tokens.RoleOps, ExpiresAt: exp})
	if a, err := c.verify([]byte(ops), now); err != nil || a.Role != tokens.RoleOps || a.UserID != 7 {
		t.Fatalf("remembered ops token: %+v, %v", a, err)
	}
}

// TestRoleCacheIsBoundedAndExpires: the role cache asks the database once
// per account per TTL, and any number of accounts keeps it bounded.
func TestRoleCacheIsBoundedAndExpires(t *testing.T) {
	queries := map[int64]int{}
	role := tokens.RoleOps
	c := newRoleCache(func(_ context.Context, id int64) (string, error) {
		queries[id]++
		return role, nil
	}, 5*time.Second)
	now := time.Now()
	for range 3 {
		if ok, err := c.isOps(t.Context(), 1, now); err != nil || !ok {
			t.Fatalf("ops account: %v, %v", ok, err)
		}
	}
	role = tokens.RoleFan
	if ok, _ := c.isOps(t.Context(), 1, now.Add(4*time.Second)); !ok || queries[1] != 1 {
		t.Fatalf("within the TTL: ops %v after %d queries, want the cached true after 1", ok, queries[1])
	}
	if ok, _ := c.isOps(t.Context(), 1, now.Add(5*time.Second)); ok || queries[1] != 2 {
		t.Fatalf("at the TTL: ops %v after %d queries, want false after 2", ok, queries[1])
	}
	for id := int64(2); id < 3*maxRoleEntries; id++ {
		c.isOps(t.Context(), id, now)
	}
	if len(c.m) > maxRoleEntries {
		t.Fatalf("the role cache holds %d accounts, over its %d", len(c.m), maxRoleEntries)
	}
}
