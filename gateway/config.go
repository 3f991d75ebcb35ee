package gateway

import (
	"fmt"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

// Config holds the settings of the gateway: accounts and their tokens,
// its Redis connection, the abuse limits, and the waiting room and
// admission it serves.
type Config struct {
	AccessTokenTTL time.Duration
	// SeenTokensMB is the memory (64 bytes a token) the gateway keeps of
	// the access tokens it verified, so a fan's polls after the first skip
	// the token's MAC and claims; 0 keeps none.
	SeenTokensMB int
	// RoleCacheTTL is how long a gateway believes the role it read from the
	// database for ops routes: how long a demoted ops account keeps its
	// powers (its token says ops for hours).
	RoleCacheTTL time.Duration
	// Hashing bounds the password hashes (argon2id, tens of milliseconds
	// of a core each): how many run at once (0: twice GOMAXPROCS), and how
	// long a login or registration waits for its turn before it gets 503.
	Hashing identity.HashLimits
	// RedisFlushDelay lets the gateway's Redis connection hold a write back
	// this long while other requests are waiting, so that under load many
	// polls share one write (rueidis MaxFlushDelay); 0 writes at once.
	RedisFlushDelay time.Duration

	// Abuse limits.
	RegisterPerIP      config.RateLimit
	RegisterPerAccount config.RateLimit
	LoginPerIP         config.RateLimit // every login attempt from one client address
	// LoginPerAccountIP counts the failed logins of one account from one
	// client address; the fan's next success there clears it. It is the
	// strict limit on guessing, and it cannot lock the owner out from
	// another address.
	LoginPerAccountIP config.RateLimit
	// LoginPerAccount counts the failed logins of one account from every
	// address together: the cap on guessers who spread over addresses,
	// loose enough that one address cannot reach it alone.
	LoginPerAccount config.RateLimit
	JoinPerIP       config.RateLimit
	JoinPerAccount  config.RateLimit

	// Admission is the waiting room's and the admission controller's.
	Admission admission.Config
}

// DefaultConfig returns the settings a gateway runs with unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		AccessTokenTTL:  12 * time.Hour,
		SeenTokensMB:    64,
		RoleCacheTTL:    5 * time.Second,
		Hashing:         identity.HashLimits{Wait: 3 * time.Second},
		RedisFlushDelay: 200 * time.Microsecond,
		// Stadium wifi and carrier NAT put many fans behind one address, so
		// the per-IP limits are generous; the per-account ones are tight.
		RegisterPerIP:      config.RateLimit{N: 30, Per: time.Minute},
		RegisterPerAccount: config.RateLimit{N: 5, Per: time.Minute},
		LoginPerIP:         config.RateLimit{N: 120, Per: time.Minute},
		LoginPerAccountIP:  config.RateLimit{N: 10, Per: time.Minute},
		LoginPerAccount:    config.RateLimit{N: 100, Per: time.Minute},
		JoinPerIP:          config.RateLimit{N: 600, Per: time.Minute},
		JoinPerAccount:     config.RateLimit{N: 30, Per: time.Minute},
		Admission:          admission.DefaultConfig(),
	}
}

// RegisterFlags binds every setting, the admission's too, to a flag of b.
func (c *Config) RegisterFlags(b *config.Binder) {
	b.Duration(&c.AccessTokenTTL, "access-token-ttl", "TICKETVELO_ACCESS_TOKEN_TTL", "lifetime of access tokens")
	b.Int(&c.SeenTokensMB, "seen-tokens-mb", "TICKETVELO_SEEN_TOKENS_MB", "memory (MB) each gateway keeps of the access tokens it verified, 64 bytes a token: a fan's later requests skip the token's MAC and claims (0 keeps none)")
	b.Duration(&c.RoleCacheTTL, "role-cache-ttl", "TICKETVELO_ROLE_CACHE_TTL", "how long the role read from the database is believed on ops routes: a demoted ops account loses ops powers within this (0 reads it every time)")
	b.Int(&c.Hashing.Concurrency, "hash-concurrency", "TICKETVELO_HASH_CONCURRENCY", "password hashes (argon2id, ~30 ms and 19 MiB each) run at once; 0 is twice GOMAXPROCS")
	b.Duration(&c.Hashing.Wait, "hash-wait", "TICKETVELO_HASH_WAIT", "longest a login or registration waits for a password hash to start; past it the answer is 503 with Retry-After")
	b.Duration(&c.RedisFlushDelay, "redis-flush-delay", "TICKETVELO_REDIS_FLUSH_DELAY", "how long the gateway's Redis connection may hold a write back to batch it with others, under load only (0 writes at once)")
	b.RateLimit(&c.RegisterPerIP, "limit-register-ip", "TICKETVELO_LIMIT_REGISTER_IP", "registrations per client address (N/window or off)")
	b.RateLimit(&c.RegisterPerAccount, "limit-register-account", "TICKETVELO_LIMIT_REGISTER_ACCOUNT", "registration attempts per email address")
	b.RateLimit(&c.LoginPerIP, "limit-login-ip", "TICKETVELO_LIMIT_LOGIN_IP", "login attempts per client address")
	b.RateLimit(&c.LoginPerAccountIP, "limit-login-account-ip", "TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP", "failed logins per email address from one client address; a success there clears them")
	b.RateLimit(&c.LoginPerAccount, "limit-login-account", "TICKETVELO_LIMIT_LOGIN_ACCOUNT", "failed logins per email address from all addresses together; must be more than one address can make")
	b.RateLimit(&c.JoinPerIP, "limit-join-ip", "TICKETVELO_LIMIT_JOIN_IP", "joins of one event per client address")
	b.RateLimit(&c.JoinPerAccount, "limit-join-account", "TICKETVELO_LIMIT_JOIN_ACCOUNT", "repeated joins of one event per account (the join that makes the place is free)")
	c.Admission.RegisterFlags(b)
}

// Validate names the variable of the first setting that is wrong.
func (c *Config) Validate() error {
	switch {
	case c.AccessTokenTTL < time.Minute:
		return fmt.Errorf("TICKETVELO_ACCESS_TOKEN_TTL: expected at least 1m, got %s", c.AccessTokenTTL)
	case c.SeenTokensMB < 0 || c.SeenTokensMB > 16384:
		return fmt.Errorf("TICKETVELO_SEEN_TOKENS_MB: expected 0 to 16384, got %d", c.SeenTokensMB)
	case c.RoleCacheTTL < 0 || c.RoleCacheTTL > time.Minute:
		return fmt.Errorf("TICKETVELO_ROLE_CACHE_TTL: expected 0 to 1m, so a demotion bites within a minute, got %s", c.RoleCacheTTL)
	case c.Hashing.Concurrency < 0:
		return fmt.Errorf("TICKETVELO_HASH_CONCURRENCY: expected 0 (twice GOMAXPROCS) or more, got %d", c.Hashing.Concurrency)
	case c.Hashing.Wait <= 0 || c.Hashing.Wait > 30*time.Second:
		return fmt.Errorf("TICKETVELO_HASH_WAIT: expected more than 0 and at most 30s, got %s", c.Hashing.Wait)
	case c.RedisFlushDelay < 0 || c.RedisFlushDelay > 2*time.Millisecond:
		return fmt.Errorf("TICKETVELO_REDIS_FLUSH_DELAY: expected 0 to 2ms, got %s", c.RedisFlushDelay)
	}
	if err := c.Admission.Validate(); err != nil {
		return err
	}
	return c.checkLoginCap()
}

// checkLoginCap refuses a per-account failure cap that one client address
// could reach alone: a stranger could then lock the owner out, which is
// what counting failures per account and address is there to prevent.
func (c *Config) checkLoginCap() error {
	lim := c.LoginPerAccount
	if lim.N == 0 {
		return nil
	}
	most := -1 // failures one address can make in one window of the cap; -1 is no bound
	for _, l := range []config.RateLimit{c.LoginPerAccountIP, c.LoginPerIP} {
		if l.N > 0 {
			if n := l.N * overlapping(lim.Per, l.Per); most < 0 || n < most {
				most = n
			}
		}
	}
	if most >= 0 && lim.N > most {
		return nil
	}
	return fmt.Errorf("TICKETVELO_LIMIT_LOGIN_ACCOUNT: expected more failures per window than one address may make (TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP %s, TICKETVELO_LIMIT_LOGIN_IP %s), so that a stranger cannot lock an account; got %s",
		c.LoginPerAccountIP, c.LoginPerIP, lim)
}

// overlapping is how many windows of length per one window of length span
// can touch. Windows are aligned on the clock (multiples of their length
// since the epoch), so when one length divides the other they nest.
func overlapping(span, per time.Duration) int {
	switch {
	case span%per == 0:
		return int(span / per)
	case per%span == 0:
		return 1
	}
	return int(span/per) + 2
}
