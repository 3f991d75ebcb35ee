package gateway_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

// behindProxy is a gateway that believes X-Forwarded-For from loopback, so
// a test can log in from as many client addresses as it likes. Its clock is
// frozen so that no limit window rolls over mid-test.
func behindProxy(t *testing.T, cfg func(*gateway.Config)) *edge {
	t.Helper()
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	return newEdge(t, edgeOptions{cfg: cfg, trusted: []*net.IPNet{loopback}, now: frozen()})
}

// loginFrom tries email and password from the client address addr.
func (e *edge) loginFrom(t *testing.T, addr, email, password string) reply {
	t.Helper()
	return e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, "X-Forwarded-For", addr)
}

// account registers email with the test password from an address of its own.
func (e *edge) account(t *testing.T, email string) {
	t.Helper()
	r := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": "a long passphrase", "name": "Owner"},
		"X-Forwarded-For", "192.0.2.200")
	if r.status != 201 {
		t.Fatalf("register %s: %d %s", email, r.status, r.raw)
	}
}

// TestStrangerCannotLockTheOwnerOut: fifty wrong passwords for an account
// from one address use up that address's allowance for the account, not
// the owner's. The attacker gets 429 with Retry-After, even with the right
// password; the owner, from their own address, gets in at once.
func TestStrangerCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	e := behindProxy(t, nil) // the shipped limits
	e.account(t, "owner@example.com")
	const attacker, owner = "203.0.113.66", "198.51.100.7"

	perAddress := e.cfg.LoginPerAccountIP.N
	for i := range 50 {
		r := e.loginFrom(t, attacker, "owner@example.com", fmt.Sprintf("guess number %d", i))
		switch {
		case i < perAddress && (r.status != 401 || r.code() != "bad_credentials"):
			t.Fatalf("guess %d: %d %s, want 401 bad_credentials", i, r.status, r.raw)
		case i >= perAddress && (r.status != 429 || r.code() != "rate_limited"):
			t.Fatalf("guess %d, past the address's %d: %d %s, want 429", i, perAddress, r.status, r.raw)
		case i >= perAddress:
			retryAfter(t, r)
		}
	}
	if r := e.loginFrom(t, attacker, "owner@example.com", "a long passphrase"); r.status != 429 {
		t.Fatalf("the attacker's address with the right password: %d %s, want 429 (guessing must stop there)", r.status, r.raw)
	}
	if r := e.loginFrom(t, owner, "owner@example.com", "a long passphrase"); r.status != 200 || r.str("access_token") == "" {
		t.Fatalf("the owner from their own address during the attack: %d %s, want 200", r.status, r.raw)
	}
}

// TestSuccessfulLoginForgetsTheFansFailures: a fan who mistypes a few times
// and then gets in starts again from zero; the limit still bites after.
func TestSuccessfulLoginForgetsTheFansFailures(t *testing.T) {
	t.Parallel()
	e := behindProxy(t, nil)
	e.account(t, "typo@example.com")
	const home = "198.51.100.8"
	perAddress := e.cfg.LoginPerAccountIP.N

	for round := range 2 {
		for i := range perAddress - 1 {
			if r := e.loginFrom(t, home, "typo@example.com", "mistyped passphrase"); r.status != 401 {
				t.Fatalf("round %d, typo %d: %d %s, want 401", round, i, r.status, r.raw)
			}
		}
		if r := e.loginFrom(t, home, "typo@example.com", "a long passphrase"); r.status != 200 {
			t.Fatalf("round %d, the right password after %d typos: %d %s, want 200", round, perAddress-1, r.status, r.raw)
		}
	}
	for i := range perAddress {
		if r := e.loginFrom(t, home, "typo@example.com", "mistyped passphrase"); r.status != 401 {
			t.Fatalf("typo %d after the last success: %d %s, want 401", i, r.status, r.raw)
		}
	}
	r := e.loginFrom(t, home, "typo@example.com", "a long passphrase")
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("after %d typos in a row: %d %s, want 429", perAddress, r.status, r.raw)
	}
	retryAfter(t, r)
}

// TestFailuresFromManyAddressesHitTheAccountCap: a guesser who spreads over
// addresses meets the looser per-account cap of failures; the cap is per
// account, and successes do not count towards it.
func TestFailuresFromManyAddressesHitTheAccountCap(t *testing.T) {
	t.Parallel()
	e := behindProxy(t, func(c *gateway.Config) {
		c.LoginPerAccountIP = config.RateLimit{N: 2, Per: time.Minute}
		c.LoginPerAccount = config.RateLimit{N: 5, Per: time.Minute}
	})
	e.account(t, "target@example.com")
	e.account(t, "bystander@example.com")
	for i := range 3 {
		if r := e.loginFrom(t, "198.51.100.50", "bystander@example.com", "a long passphrase"); r.status != 200 {
			t.Fatalf("bystander's login %d: %d %s", i, r.status, r.raw)
		}
	}
	for i := range 5 {
		addr := fmt.Sprintf("203.0.113.%d", 10+i/2)
		if r := e.loginFrom(t, addr, "target@example.com", "wrong passphrase"); r.status != 401 {
			t.Fatalf("failure %d from %s: %d %s, want 401", i, addr, r.status, r.raw)
		}
	}
	r := e.loginFrom(t, "203.0.113.99", "target@example.com", "wrong passphrase")
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("a sixth failure from a fresh address: %d %s, want 429 from the account cap", r.status, r.raw)
	}
	retryAfter(t, r)
	if r := e.loginFrom(t, "198.51.100.50", "bystander@example.com", "a long passphrase"); r.status != 200 {
		t.Fatalf("another account is not capped: %d %s", r.status, r.raw)
	}
}
