package gateway_test

import (
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestOpsRoutesFollowTheRoleInTheDatabase: an ops token stops working on
// ops routes once the role cache's TTL has passed after a demotion, though
// the token is valid for hours; a promotion works the same way, without a
// new token. Within the TTL the gateway answers from its cache.
func TestOpsRoutesFollowTheRoleInTheDatabase(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	clock := testenv.NewClock(time.Now())
	e := newEdge(t, edgeOptions{now: clock.Now, cfg: func(c *gateway.Config) {
		noLimits(c)
		c.RoleCacheTTL = ttl
	}})
	ctx := t.Context()
	ops, err := e.users.Create(ctx, identity.Registration{Email: "olive@example.com", Password: "ops passphrase 1", Name: "Olive"}, tokens.RoleOps)
	if err != nil {
		t.Fatal(err)
	}
	opsToken, _, err := e.ring.IssueAccess(ops.ID, tokens.RoleOps, 12*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fanToken, _ := e.register(t, "felix@example.com")
	venues := func(token string) reply { return e.call(t, "GET", "/api/v1/admin/venues", token, nil) }

	if r := venues(opsToken); r.status != 200 {
		t.Fatalf("ops token before the demotion: %d %s", r.status, r.raw)
	}
	if r := venues(fanToken); r.status != 403 || r.code() != "forbidden" {
		t.Fatalf("fan token before the promotion: %d %s, want 403 forbidden", r.status, r.raw)
	}
	if _, err := e.users.SetRole(ctx, "olive@example.com", tokens.RoleFan); err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.SetRole(ctx, "felix@example.com", tokens.RoleOps); err != nil {
		t.Fatal(err)
	}
	// Within the TTL the cached roles still answer.
	clock.Advance(ttl - time.Millisecond)
	if r := venues(opsToken); r.status != 200 {
		t.Fatalf("ops token within the role cache's TTL: %d %s, want the cached 200", r.status, r.raw)
	}
	clock.Advance(time.Millisecond)
	r := venues(opsToken)
	if r.status != 403 || r.code() != "forbidden" {
		t.Fatalf("demoted ops' token after the TTL: %d %s, want 403 forbidden", r.status, r.raw)
	}
	if r := e.call(t, "PUT", "/api/v1/admin/events/1/admission", opsToken, map[string]any{}); r.status != 403 {
		t.Fatalf("demoted ops' token on another ops route: %d %s, want 403", r.status, r.raw)
	}
	if r := e.call(t, "GET", "/api/v1/me", opsToken, nil); r.status != 200 || r.str("user", "role") != tokens.RoleFan {
		t.Fatalf("the demoted account's own routes: %d %s, want 200 as a fan", r.status, r.raw)
	}
	if r := venues(fanToken); r.status != 200 {
		t.Fatalf("promoted fan's token after the TTL: %d %s, want 200", r.status, r.raw)
	}
}
