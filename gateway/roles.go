package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// maxRoleEntries bounds the role cache. Any fan can send their token to an
// ops route, so entries are not limited to the few ops accounts; past the
// bound the expired entries go, or all of them, at the cost of a query each.
const maxRoleEntries = 10_000

// roleCache says whether an account is ops now, from the database. An
// access token's role claim is what the account was at sign-in, up to 12 h
// ago; believing the database instead, for ttl at most, is what lets a
// demotion bite in seconds. ttl 0 reads the database every time.
type roleCache struct {
	lookup func(ctx context.Context, userID int64) (string, error)
	ttl    time.Duration

	mu sync.Mutex
	m  map[int64]roleEntry
}

type roleEntry struct {
	ops   bool
	until time.Time
}

func newRoleCache(lookup func(context.Context, int64) (string, error), ttl time.Duration) *roleCache {
	return &roleCache{lookup: lookup, ttl: ttl, m: map[int64]roleEntry{}}
}

// isOps reports whether userID holds the ops role, as the database said at
// most ttl before now. An account that no longer exists is not ops.
func (c *roleCache) isOps(ctx context.Context, userID int64, now time.Time) (bool, error) {
	c.mu.Lock()
	e, ok := c.m[userID]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.ops, nil
	}
	role, err := c.lookup(ctx, userID)
	if errors.Is(err, identity.ErrUserNotFound) {
		role, err = "", nil
	}
	if err != nil {
		return false, err
	}
	ops := role == tokens.RoleOps
	if c.ttl > 0 {
		c.store(userID, roleEntry{ops: ops, until: now.Add(c.ttl)}, now)
	}
	return ops, nil
}

func (c *roleCache) store(userID int64, e roleEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxRoleEntries {
		for id, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, id)
			}
		}
		if len(c.m) >= maxRoleEntries {
			clear(c.m)
		}
	}
	c.m[userID] = e
}
