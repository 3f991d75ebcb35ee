// Package config holds what every TicketVelo command shares: the settings
// of the stores, serving, files, logs, keys and seeding, read from the
// environment and from command-line flags (which override it), and the
// Binder through which each service's own Config binds its flags the same
// way. Every setting has a default that runs the whole system against
// services on loopback, and Validate names the variable of the first
// setting that is wrong. It imports no service: each service owns its
// Config, and cmd/ticketvelo composes them.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// Config holds the settings every command shares. A command binds only the
// groups it uses, so its -h lists only flags that matter to it.
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
}

// Groups of settings a command may bind.
const (
	Stores = 1 << iota
	Serving
	Files
	Seeding
	Keys // the signing key file: services and tools that sign or check tokens
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
	}
}

// RegisterFlags binds the settings of the chosen groups to flags of b.
func (c *Config) RegisterFlags(b *Binder, groups int) {
	if groups&Stores != 0 {
		b.URL(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL URL; the database is created when missing")
		b.URL(&c.RedisURL, "redis-url", "REDIS_URL", "Redis URL (redis://[user:pass@]host:port/db)")
		b.Str(&c.RedisPrefix, "redis-prefix", "TICKETVELO_REDIS_PREFIX", "prefix of every Redis key, so several installs share one Redis")
		b.List(&c.KafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "comma-separated Kafka bootstrap brokers; empty starts the embedded broker")
		b.Str(&c.BrokerAddr, "broker-addr", "TICKETVELO_BROKER_ADDR", "listen address of the embedded broker when KAFKA_BROKERS is empty")
		b.Duration(&c.DBAcquireTimeout, "db-acquire-timeout", "TICKETVELO_DB_ACQUIRE_TIMEOUT", "longest a Postgres call waits for a free pool connection; then the request gets 503")
		b.Duration(&c.StoreTimeout, "store-timeout", "TICKETVELO_STORE_TIMEOUT", "longest the Postgres and Redis work of one request may take; then it gets 503")
	}
	if groups&Serving != 0 {
		b.Str(&c.Addr, "addr", "TICKETVELO_ADDR", "HTTP listen address")
		b.Int(&c.MaxBodyBytes, "max-body-bytes", "TICKETVELO_MAX_BODY_BYTES", "largest request body accepted; larger ones get 413")
		b.Duration(&c.ShutdownDelay, "shutdown-delay", "TICKETVELO_SHUTDOWN_DELAY", "how long /readyz fails before the listener closes on shutdown, so load balancers stop sending")
		b.Duration(&c.ShutdownTimeout, "shutdown-timeout", "TICKETVELO_SHUTDOWN_TIMEOUT", "how long in-flight requests may take to finish on shutdown")
		b.CIDRs(&c.TrustedProxies, "trusted-proxies", "TICKETVELO_TRUSTED_PROXIES", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed")
		b.Str(&c.PprofAddr, "pprof-addr", "TICKETVELO_PPROF_ADDR", "serve net/http/pprof (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty serves none")
	}
	if groups&(Files|Stores|Serving) != 0 {
		b.Str(&c.DataDir, "data-dir", "TICKETVELO_DATA_DIR", "directory for the broker log, signing keys and mail files")
		b.Str(&c.LogLevel, "log-level", "TICKETVELO_LOG_LEVEL", "log level: debug, info, warn or error")
		b.Str(&c.LogFormat, "log-format", "TICKETVELO_LOG_FORMAT", "log format: json or console")
	}
	if groups&Keys != 0 {
		b.Str(&c.KeyFile, "key-file", "TICKETVELO_KEY_FILE", "Ed25519 signing key file (PEM, several keys allowed; the last signs); default <data-dir>/keys.pem, created when missing")
	}
	if groups&Seeding != 0 {
		b.Bool(&c.Seed, "seed", "TICKETVELO_SEED", "seed the two demo venues and their events on start-up when missing")
	}
}

// Validate checks the settings of the chosen groups and names the variable of
// the first one that is wrong.
func (c *Config) Validate(groups int) error {
	if groups&Stores != 0 {
		if err := c.validateStores(); err != nil {
			return err
		}
	}
	if groups&Serving != 0 {
		if err := c.validateServing(); err != nil {
			return err
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
	return nil
}

func (c *Config) validateStores() error {
	if err := CheckURL("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql"); err != nil {
		return err
	}
	if err := CheckURL("REDIS_URL", c.RedisURL, "redis", "rediss", "unix"); err != nil {
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
	return c.validateTimeouts()
}

func (c *Config) validateServing() error {
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
		return checkLoopback("TICKETVELO_PPROF_ADDR", c.PprofAddr)
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

// CheckURL checks raw is a URL of one of schemes with a host, and names
// the variable name when it is not. Its errors show raw with its password
// masked: they end up in container logs.
func CheckURL(name, raw string, schemes ...string) error {
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
