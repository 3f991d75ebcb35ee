package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// GatewayConfig holds the settings of the gateway: accounts, the waiting
// room and admission.
type GatewayConfig struct {
	// Tokens.
	AccessTokenTTL time.Duration
	AdmissionTTL   time.Duration
	// RoleCacheTTL is how long a gateway believes the role it read from the
	// database for ops routes: how long a demoted ops account keeps its
	// powers (its token says ops for hours).
	RoleCacheTTL time.Duration
	// Password hashing (argon2id, tens of milliseconds of a core each):
	// how many run at once (0: twice GOMAXPROCS), and how long a login or
	// registration waits for its turn before it gets 503.
	HashConcurrency int
	HashWait        time.Duration

	// The waiting room.
	GracePeriod       time.Duration // fans silent longer than this are skipped at admission
	AdmissionInterval time.Duration // how often each gateway runs the admission step of each event
	// RedisFlushDelay lets the gateway's Redis connection hold a write back
	// this long while other requests are waiting, so that under load many
	// polls share one write (rueidis MaxFlushDelay); 0 writes at once.
	RedisFlushDelay  time.Duration
	DefaultRate      float64 // admissions per second of an event nobody configured yet
	DefaultMaxActive int     // admitted buyers at once of an event nobody configured yet

	// Auto mode: AIMD on the rate from the booker's figures.
	AutoTargetP99      time.Duration
	AutoTargetErrors   float64 // error ratio 0..1
	AutoIncrease       float64 // admissions per second added each second while healthy
	AutoDecreaseFactor float64 // the rate is multiplied by this when unhealthy
	AutoMinRate        float64
	AutoMaxRate        float64

	// Abuse limits.
	RegisterPerIP      RateLimit
	RegisterPerAccount RateLimit
	LoginPerIP         RateLimit // every login attempt from one client address
	// LoginPerAccountIP counts the failed logins of one account from one
	// client address; the fan's next success there clears it. It is the
	// strict limit on guessing, and it cannot lock the owner out from
	// another address.
	LoginPerAccountIP RateLimit
	// LoginPerAccount counts the failed logins of one account from every
	// address together: the cap on guessers who spread over addresses,
	// loose enough that one address cannot reach it alone.
	LoginPerAccount RateLimit
	JoinPerIP       RateLimit
	JoinPerAccount  RateLimit
}

// RateLimit allows N requests per window Per; N = 0 disables the limit.
type RateLimit struct {
	N   int
	Per time.Duration
}

func (l RateLimit) String() string {
	if l.N == 0 {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Per.String()
}

// ParseRateLimit reads "N/duration" such as "20/1m", or "off".
func ParseRateLimit(s string) (RateLimit, error) {
	if s == "off" || s == "0" {
		return RateLimit{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, errors.New("expected N/duration such as 20/1m, or off")
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return RateLimit{}, errors.New("expected a count of 0 or more before '/'")
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < time.Second {
		return RateLimit{}, errors.New("expected a window of at least 1s after '/'")
	}
	return RateLimit{N: count, Per: d}, nil
}

func defaultGateway() GatewayConfig {
	return GatewayConfig{
		AccessTokenTTL:     12 * time.Hour,
		AdmissionTTL:       10 * time.Minute,
		RoleCacheTTL:       5 * time.Second,
		HashWait:           3 * time.Second,
		GracePeriod:        60 * time.Second,
		AdmissionInterval:  100 * time.Millisecond,
		RedisFlushDelay:    200 * time.Microsecond,
		DefaultRate:        50,
		DefaultMaxActive:   500,
		AutoTargetP99:      500 * time.Millisecond,
		AutoTargetErrors:   0.01,
		AutoIncrease:       5,
		AutoDecreaseFactor: 0.5,
		AutoMinRate:        1,
		AutoMaxRate:        2000,
		// Stadium wifi and carrier NAT put many fans behind one address, so
		// the per-IP limits are generous; the per-account ones are tight.
		RegisterPerIP:      RateLimit{30, time.Minute},
		RegisterPerAccount: RateLimit{5, time.Minute},
		LoginPerIP:         RateLimit{120, time.Minute},
		LoginPerAccountIP:  RateLimit{10, time.Minute},
		LoginPerAccount:    RateLimit{100, time.Minute},
		JoinPerIP:          RateLimit{600, time.Minute},
		JoinPerAccount:     RateLimit{30, time.Minute},
	}
}

func (g *GatewayConfig) bind(b *binder) {
	b.duration(&g.AccessTokenTTL, "access-token-ttl", "TICKETVELO_ACCESS_TOKEN_TTL", "lifetime of access tokens")
	b.duration(&g.AdmissionTTL, "admission-ttl", "TICKETVELO_ADMISSION_TTL", "how long an admitted buyer may buy (the admission token's lifetime, whole seconds)")
	b.duration(&g.RoleCacheTTL, "role-cache-ttl", "TICKETVELO_ROLE_CACHE_TTL", "how long the role read from the database is believed on ops routes: a demoted ops account loses ops powers within this (0 reads it every time)")
	b.int(&g.HashConcurrency, "hash-concurrency", "TICKETVELO_HASH_CONCURRENCY", "password hashes (argon2id, ~30 ms and 19 MiB each) run at once; 0 is twice GOMAXPROCS")
	b.duration(&g.HashWait, "hash-wait", "TICKETVELO_HASH_WAIT", "longest a login or registration waits for a password hash to start; past it the answer is 503 with Retry-After")
	b.duration(&g.GracePeriod, "queue-grace-period", "TICKETVELO_QUEUE_GRACE_PERIOD", "fans who stop polling for longer lose their place at admission")
	b.duration(&g.AdmissionInterval, "admission-interval", "TICKETVELO_ADMISSION_INTERVAL", "how often each gateway runs the admission step of each event on sale")
	b.duration(&g.RedisFlushDelay, "redis-flush-delay", "TICKETVELO_REDIS_FLUSH_DELAY", "how long the gateway's Redis connection may hold a write back to batch it with others, under load only (0 writes at once)")
	b.gatewayFloat(&g.DefaultRate, "default-admission-rate", "TICKETVELO_DEFAULT_ADMISSION_RATE", "admissions per second of an event whose rate ops have not set")
	b.int(&g.DefaultMaxActive, "default-max-active", "TICKETVELO_DEFAULT_MAX_ACTIVE", "admitted buyers at once of an event whose cap ops have not set")
	b.duration(&g.AutoTargetP99, "auto-target-p99", "TICKETVELO_AUTO_TARGET_P99", "auto mode raises the rate while the booker's p99 latency stays under this")
	b.gatewayFloat(&g.AutoTargetErrors, "auto-target-error-rate", "TICKETVELO_AUTO_TARGET_ERROR_RATE", "auto mode raises the rate while the booker's error ratio (0-1) stays under this")
	b.gatewayFloat(&g.AutoIncrease, "auto-increase", "TICKETVELO_AUTO_INCREASE", "admissions per second auto mode adds each second while the booker is healthy")
	b.gatewayFloat(&g.AutoDecreaseFactor, "auto-decrease-factor", "TICKETVELO_AUTO_DECREASE_FACTOR", "factor (0-1) auto mode multiplies the rate by when the booker is not")
	b.gatewayFloat(&g.AutoMinRate, "auto-min-rate", "TICKETVELO_AUTO_MIN_RATE", "auto mode never goes below this rate")
	b.gatewayFloat(&g.AutoMaxRate, "auto-max-rate", "TICKETVELO_AUTO_MAX_RATE", "auto mode never goes above this rate")
	b.rateLimit(&g.RegisterPerIP, "limit-register-ip", "TICKETVELO_LIMIT_REGISTER_IP", "registrations per client address (N/window or off)")
	b.rateLimit(&g.RegisterPerAccount, "limit-register-account", "TICKETVELO_LIMIT_REGISTER_ACCOUNT", "registration attempts per email address")
	b.rateLimit(&g.LoginPerIP, "limit-login-ip", "TICKETVELO_LIMIT_LOGIN_IP", "login attempts per client address")
	b.rateLimit(&g.LoginPerAccountIP, "limit-login-account-ip", "TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP", "failed logins per email address from one client address; a success there clears them")
	b.rateLimit(&g.LoginPerAccount, "limit-login-account", "TICKETVELO_LIMIT_LOGIN_ACCOUNT", "failed logins per email address from all addresses together; must be more than one address can make")
	b.rateLimit(&g.JoinPerIP, "limit-join-ip", "TICKETVELO_LIMIT_JOIN_IP", "joins of one event per client address")
	b.rateLimit(&g.JoinPerAccount, "limit-join-account", "TICKETVELO_LIMIT_JOIN_ACCOUNT", "repeated joins of one event per account (the join that makes the place is free)")
}

func (g *GatewayConfig) validate() error {
	switch {
	case g.AccessTokenTTL < time.Minute:
		return fmt.Errorf("TICKETVELO_ACCESS_TOKEN_TTL: expected at least 1m, got %s", g.AccessTokenTTL)
	case g.AdmissionTTL < 10*time.Second || g.AdmissionTTL%time.Second != 0:
		return fmt.Errorf("TICKETVELO_ADMISSION_TTL: expected whole seconds, at least 10s, got %s", g.AdmissionTTL)
	case g.RoleCacheTTL < 0 || g.RoleCacheTTL > time.Minute:
		return fmt.Errorf("TICKETVELO_ROLE_CACHE_TTL: expected 0 to 1m, so a demotion bites within a minute, got %s", g.RoleCacheTTL)
	case g.HashConcurrency < 0:
		return fmt.Errorf("TICKETVELO_HASH_CONCURRENCY: expected 0 (twice GOMAXPROCS) or more, got %d", g.HashConcurrency)
	case g.HashWait <= 0 || g.HashWait > 30*time.Second:
		return fmt.Errorf("TICKETVELO_HASH_WAIT: expected more than 0 and at most 30s, got %s", g.HashWait)
	case g.GracePeriod < 5*time.Second:
		return fmt.Errorf("TICKETVELO_QUEUE_GRACE_PERIOD: expected at least 5s, got %s", g.GracePeriod)
	case g.AdmissionInterval < 10*time.Millisecond || g.AdmissionInterval > time.Second:
		return fmt.Errorf("TICKETVELO_ADMISSION_INTERVAL: expected 10ms to 1s so settings apply within a second, got %s", g.AdmissionInterval)
	case g.RedisFlushDelay < 0 || g.RedisFlushDelay > 2*time.Millisecond:
		return fmt.Errorf("TICKETVELO_REDIS_FLUSH_DELAY: expected 0 to 2ms, got %s", g.RedisFlushDelay)
	case !(g.DefaultRate > 0):
		return fmt.Errorf("TICKETVELO_DEFAULT_ADMISSION_RATE: expected a positive rate, got %v", g.DefaultRate)
	case g.DefaultMaxActive < 1:
		return fmt.Errorf("TICKETVELO_DEFAULT_MAX_ACTIVE: expected at least 1, got %d", g.DefaultMaxActive)
	case g.AutoTargetP99 <= 0:
		return fmt.Errorf("TICKETVELO_AUTO_TARGET_P99: expected a positive duration, got %s", g.AutoTargetP99)
	case !(g.AutoTargetErrors > 0 && g.AutoTargetErrors < 1):
		return fmt.Errorf("TICKETVELO_AUTO_TARGET_ERROR_RATE: expected a ratio between 0 and 1, got %v", g.AutoTargetErrors)
	case !(g.AutoIncrease > 0):
		return fmt.Errorf("TICKETVELO_AUTO_INCREASE: expected a positive rate, got %v", g.AutoIncrease)
	case !(g.AutoDecreaseFactor > 0 && g.AutoDecreaseFactor < 1):
		return fmt.Errorf("TICKETVELO_AUTO_DECREASE_FACTOR: expected a factor between 0 and 1, got %v", g.AutoDecreaseFactor)
	case !(g.AutoMinRate > 0 && g.AutoMinRate <= g.AutoMaxRate):
		return fmt.Errorf("TICKETVELO_AUTO_MIN_RATE / TICKETVELO_AUTO_MAX_RATE: expected 0 < min <= max, got %v and %v", g.AutoMinRate, g.AutoMaxRate)
	}
	return g.checkLoginCap()
}

// checkLoginCap refuses a per-account failure cap that one client address
// could reach alone: a stranger could then lock the owner out, which is
// what counting failures per account and address is there to prevent.
func (g *GatewayConfig) checkLoginCap() error {
	lim := g.LoginPerAccount
	if lim.N == 0 {
		return nil
	}
	most := -1 // failures one address can make in one window of the cap; -1 is no bound
	for _, l := range []RateLimit{g.LoginPerAccountIP, g.LoginPerIP} {
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
		g.LoginPerAccountIP, g.LoginPerIP, lim)
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

// gatewayFloat binds a decimal number.
func (b *binder) gatewayFloat(p *float64, name, env, help string) {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }
	if v, ok := b.env(name, env); ok {
		f, err := parse(v)
		if err != nil {
			b.fail(name, env, "a number", v)
		}
		*p = f
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(strconv.FormatFloat(*p, 'g', -1, 64)), b.track(name, func(s string) error {
		f, err := parse(s)
		if err != nil {
			return errors.New("expected a number")
		}
		*p = f
		return nil
	}))
}

// rateLimit binds a limit written as N/duration or off.
func (b *binder) rateLimit(p *RateLimit, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		l, err := ParseRateLimit(v)
		if err != nil {
			b.fail(name, env, "N/duration such as 20/1m, or off", v)
		}
		*p = l
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(p.String()), b.track(name, func(s string) error {
		l, err := ParseRateLimit(s)
		if err != nil {
			return err
		}
		*p = l
		return nil
	}))
}
