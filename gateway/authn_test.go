package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

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
