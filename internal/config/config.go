// Package config reads TicketVelo's settings from the environment and from
// command-line flags, which override the environment. Every setting has a
// default that runs the whole system against services on loopback, and
// Validate names the variable of the first setting that is wrong.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// Config holds every setting of every subcommand. A subcommand binds only
// the groups it uses, so its -h lists only flags that matter to it.
type Config struct {
	// Stores.
	DatabaseURL  string
	RedisURL     string
	RedisPrefix  string
	KafkaBrokers []string
	BrokerAddr   string
	// DBAcquireTimeout bounds how long a Postgres call waits for a free
	// connection of the pool; past it the request gets 503 instead of
	// queueing behind a busy or broken pool.
	DBAcquireTimeout time.Duration
	// StoreTimeout bounds the Postgres and Redis work of one request (the
	// simulated payment's wait comes on top); past it the request gets 503.
	StoreTimeout time.Duration

	// Serving.
	Addr            string
	MaxBodyBytes    int
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	TrustedProxies  []*net.IPNet
	// PprofAddr serves net/http/pprof for profiling a live process; empty
	// serves none. Only a loopback address is accepted: profiles show
	// the code and the CPU profile endpoint costs CPU.
	PprofAddr string

	// Files and logs.
	DataDir   string
	KeyFile   string
	LogLevel  string
	LogFormat string

	// Seeding.
	Seed bool

	// Each service's own settings.
	Gateway  GatewayConfig
	Booker   BookerConfig
	Notifier NotifierConfig
}

// Groups of settings a subcommand may bind.
const (
	Stores = 1 << iota
	Serving
	Files
	Seeding
	Gateway
	Booker
	Notifier
	Keys // only the signing key file, for tools that sign tokens
)

// Default returns the settings for a local run against PostgreSQL and Redis on
// loopback with the embedded broker.
func Default() Config {
	return Config{
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/ticketvelo?sslmode=disable",
		RedisURL:    "redis://127.0.0.1:6379/0",
		RedisPrefix: "tv:",
		BrokerAddr:  "127.0.0.1:9092",
		// About a second each: long enough for any request of a healthy
		// system on a busy machine, short enough that a fan of an outage
		// hears 503 and retries instead of watching a spinner.
		DBAcquireTimeout: time.Second,
		StoreTimeout:     2 * time.Second,
		Addr:             ":8080",
		MaxBodyBytes:     64 << 10,
		ShutdownDelay:    0,
		ShutdownTimeout:  10 * time.Second,
		DataDir:          "data",
		LogLevel:         "info",
		LogFormat:        "json",
		Seed:             true,
		Gateway:          defaultGateway(),
		Booker:           defaultBooker(),
		Notifier:         defaultNotifier(),
	}
}

// Bind registers the flags of the chosen groups on fs, each defaulting to its
// environment variable when set and to d otherwise. Values in the environment
// that do not parse are reported by the returned function, which must be
// called after fs.Parse: a flag given on the command line wins over a broken
// variable.
func (c *Config) Bind(fs *flag.FlagSet, groups int, getenv func(string) string) func() error {
	*c = Default()
	b := &binder{fs: fs, getenv: getenv, set: map[string]bool{}}
	if groups&Stores != 0 {
		b.url(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL URL; the database is created when missing")
		b.url(&c.RedisURL, "redis-url", "REDIS_URL", "Redis URL (redis://[user:pass@]host:port/db)")
		b.str(&c.RedisPrefix, "redis-prefix", "TICKETVELO_REDIS_PREFIX", "prefix of every Redis key, so several installs share one Redis")
		b.list(&c.KafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "comma-separated Kafka bootstrap brokers; empty starts the embedded broker")
		b.str(&c.BrokerAddr, "broker-addr", "TICKETVELO_BROKER_ADDR", "listen address of the embedded broker when KAFKA_BROKERS is empty")
		b.duration(&c.DBAcquireTimeout, "db-acquire-timeout", "TICKETVELO_DB_ACQUIRE_TIMEOUT", "longest a Postgres call waits for a free pool connection; then the request gets 503")
		b.duration(&c.StoreTimeout, "store-timeout", "TICKETVELO_STORE_TIMEOUT", "longest the Postgres and Redis work of one request may take; then it gets 503")
	}
	if groups&Serving != 0 {
		b.str(&c.Addr, "addr", "TICKETVELO_ADDR", "HTTP listen address")
		b.int(&c.MaxBodyBytes, "max-body-bytes", "TICKETVELO_MAX_BODY_BYTES", "largest request body accepted; larger ones get 413")
		b.duration(&c.ShutdownDelay, "shutdown-delay", "TICKETVELO_SHUTDOWN_DELAY", "how long /readyz fails before the listener closes on shutdown, so load balancers stop sending")
		b.duration(&c.ShutdownTimeout, "shutdown-timeout", "TICKETVELO_SHUTDOWN_TIMEOUT", "how long in-flight requests may take to finish on shutdown")
		b.cidrs(&c.TrustedProxies, "trusted-proxies", "TICKETVELO_TRUSTED_PROXIES", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed")
		b.str(&c.PprofAddr, "pprof-addr", "TICKETVELO_PPROF_ADDR", "serve net/http/pprof (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty serves none")
	}
	if groups&(Files|Stores|Serving) != 0 {
		b.str(&c.DataDir, "data-dir", "TICKETVELO_DATA_DIR", "directory for the broker log, signing keys and mail files")
		b.str(&c.LogLevel, "log-level", "TICKETVELO_LOG_LEVEL", "log level: debug, info, warn or error")
		b.str(&c.LogFormat, "log-format", "TICKETVELO_LOG_FORMAT", "log format: json or console")
	}
	if groups&(Gateway|Booker|Notifier|Keys) != 0 {
		b.str(&c.KeyFile, "key-file", "TICKETVELO_KEY_FILE", "Ed25519 signing key file (PEM, several keys allowed; the last signs); default <data-dir>/keys.pem, created when missing")
	}
	if groups&Gateway != 0 {
		c.Gateway.bind(b)
	}
	if groups&Booker != 0 {
		c.Booker.bind(b)
	}
	if groups&Notifier != 0 {
		c.Notifier.bind(b)
	}
	if groups&Seeding != 0 {
		b.bool(&c.Seed, "seed", "TICKETVELO_SEED", "seed the two demo venues and their events on start-up when missing")
	}
	return func() error {
		for _, e := range b.errs {
			if !b.set[e.flag] {
				return e.err
			}
		}
		return c.Validate(groups)
	}
}

// Validate checks the settings of the chosen groups and names the variable of
// the first one that is wrong.
func (c *Config) Validate(groups int) error {
	if groups&Stores != 0 {
		if err := checkURL("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql"); err != nil {
			return err
		}
		if err := checkURL("REDIS_URL", c.RedisURL, "redis", "rediss", "unix"); err != nil {
			return err
		}
		if strings.ContainsAny(c.RedisPrefix, "{}") {
			// Keys carry their event's {hash tag}; a brace in the prefix
			// would become the tag and put every event in one slot.
			return fmt.Errorf("TICKETVELO_REDIS_PREFIX: expected no braces, got %q", c.RedisPrefix)
		}
		for _, b := range c.KafkaBrokers {
			if err := checkHostPort("KAFKA_BROKERS", b); err != nil {
				return err
			}
		}
		if len(c.KafkaBrokers) == 0 {
			if err := checkHostPort("TICKETVELO_BROKER_ADDR", c.BrokerAddr); err != nil {
				return err
			}
		}
		if err := c.validateTimeouts(); err != nil {
			return err
		}
	}
	if groups&Serving != 0 {
		if err := checkHostPort("TICKETVELO_ADDR", c.Addr); err != nil {
			return err
		}
		if c.MaxBodyBytes < 1024 {
			return fmt.Errorf("TICKETVELO_MAX_BODY_BYTES: expected at least 1024, got %d", c.MaxBodyBytes)
		}
		if c.ShutdownDelay < 0 || c.ShutdownTimeout <= 0 {
			return errors.New("TICKETVELO_SHUTDOWN_DELAY / TICKETVELO_SHUTDOWN_TIMEOUT: expected positive durations")
		}
		if c.PprofAddr != "" {
			if err := checkLoopback("TICKETVELO_PPROF_ADDR", c.PprofAddr); err != nil {
				return err
			}
		}
	}
	if c.DataDir == "" {
		return errors.New("TICKETVELO_DATA_DIR: expected a directory, got an empty value")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("TICKETVELO_LOG_LEVEL: expected debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return fmt.Errorf("TICKETVELO_LOG_FORMAT: expected json or console, got %q", c.LogFormat)
	}
	if groups&Gateway != 0 {
		if err := c.Gateway.validate(); err != nil {
			return err
		}
	}
	if groups&Booker != 0 {
		if err := c.Booker.validate(); err != nil {
			return err
		}
	}
	if groups&Notifier != 0 {
		if err := c.Notifier.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateTimeouts() error {
	switch {
	case c.StoreTimeout <= 0 || c.StoreTimeout > time.Minute:
		return fmt.Errorf("TICKETVELO_STORE_TIMEOUT: expected a positive duration up to 1m, got %s", c.StoreTimeout)
	case c.DBAcquireTimeout <= 0 || c.DBAcquireTimeout > c.StoreTimeout:
		// A wait for a connection longer than the request's whole budget
		// would only end in the request's own timeout.
		return fmt.Errorf("TICKETVELO_DB_ACQUIRE_TIMEOUT: expected a positive duration up to TICKETVELO_STORE_TIMEOUT (%s), got %s", c.StoreTimeout, c.DBAcquireTimeout)
	}
	return nil
}

// KeyPath is the signing key file: the configured one or the data dir's.
func (c *Config) KeyPath() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return strings.TrimRight(c.DataDir, "/") + "/keys.pem"
}

// checkURL checks raw is a URL of one of schemes with a host. Its errors
// show raw with its password masked: they end up in container logs.
func checkURL(name, raw string, schemes ...string) error {
	shown := redact.URL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: expected a URL, got %q: %w", name, shown, redact.ParseError(err, raw))
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" && s != "unix" {
				return fmt.Errorf("%s: expected a host in %q", name, shown)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: expected a %s:// URL, got %q", name, schemes[0], shown)
}

func checkHostPort(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: expected host:port, got %q", name, redact.URL(addr))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: expected a port number 0-65535, got %q", name, port)
	}
	return nil
}

// checkLoopback accepts host:port whose host is a loopback IP or
// localhost.
func checkLoopback(name, addr string) error {
	if err := checkHostPort(name, addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s: expected a loopback address such as 127.0.0.1:6060, got %q", name, addr)
	}
	return nil
}

type bindErr struct {
	flag string
	err  error
}

// binder registers flags whose defaults come from the environment.
type binder struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []bindErr
	set    map[string]bool
}

func (b *binder) env(flagName, env string) (string, bool) {
	v := b.getenv(env)
	return v, v != ""
}

func (b *binder) fail(flagName, env, want, got string) {
	b.errs = append(b.errs, bindErr{flagName, fmt.Errorf("%s: expected %s, got %q", env, want, got)})
}

func (b *binder) usage(help, env string) string { return fmt.Sprintf("%s (env %s)", help, env) }

func (b *binder) track(name string, set func(string) error) func(string) error {
	return func(s string) error {
		b.set[name] = true
		return set(s)
	}
}

func (b *binder) str(p *string, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		*p = v
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(*p), b.track(name, func(s string) error { *p = s; return nil }))
}

// url is str for a URL that may hold a password: the help shows its
// default (the environment's value) with the password masked.
func (b *binder) url(p *string, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		*p = v
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(redact.URL(*p)), b.track(name, func(s string) error { *p = s; return nil }))
}

func (b *binder) list(p *[]string, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		*p = splitList(v)
	}
	b.fs.Func(name, b.usage(help, env), b.track(name, func(s string) error { *p = splitList(s); return nil }))
}

func (b *binder) int(p *int, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.fail(name, env, "an integer", v)
		}
		*p = n
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(strconv.Itoa(*p)), b.track(name, func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("expected an integer")
		}
		*p = n
		return nil
	}))
}

func (b *binder) bool(p *bool, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		t, err := strconv.ParseBool(v)
		if err != nil {
			b.fail(name, env, "true or false", v)
		}
		*p = t
	}
	b.fs.BoolFunc(name, b.usage(help, env)+defaultNote(strconv.FormatBool(*p)), b.track(name, func(s string) error {
		t, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("expected true or false")
		}
		*p = t
		return nil
	}))
}

func (b *binder) duration(p *time.Duration, name, env, help string) {
	if v, ok := b.env(name, env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.fail(name, env, "a duration such as 500ms or 10s", v)
		}
		*p = d
	}
	b.fs.Func(name, b.usage(help, env)+defaultNote(p.String()), b.track(name, func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("expected a duration such as 500ms or 10s")
		}
		*p = d
		return nil
	}))
}

func (b *binder) cidrs(p *[]*net.IPNet, name, env, help string) {
	parse := func(s string) ([]*net.IPNet, error) {
		var out []*net.IPNet
		for _, item := range splitList(s) {
			if !strings.Contains(item, "/") {
				if strings.Contains(item, ":") {
					item += "/128"
				} else {
					item += "/32"
				}
			}
			_, n, err := net.ParseCIDR(item)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	}
	if v, ok := b.env(name, env); ok {
		nets, err := parse(v)
		if err != nil {
			b.fail(name, env, "comma-separated CIDRs such as 10.0.0.0/8", v)
		}
		*p = nets
	}
	b.fs.Func(name, b.usage(help, env), b.track(name, func(s string) error {
		nets, err := parse(s)
		if err != nil {
			return errors.New("expected comma-separated CIDRs such as 10.0.0.0/8")
		}
		*p = nets
		return nil
	}))
}

func defaultNote(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(" (default %q)", v)
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
