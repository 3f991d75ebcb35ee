package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, groups int, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := Default()
	b := NewBinder(fs, func(k string) string { return env[k] })
	c.RegisterFlags(b, groups)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := b.Err(); err != nil {
		return c, err
	}
	return c, c.Validate(groups)
}

const everything = Stores | Serving | Files | Seeding | Keys

func TestDefaultsAreValid(t *testing.T) {
	c, err := load(t, everything, nil)
	if err != nil {
		t.Fatalf("defaults: got error %v, want none", err)
	}
	if c.Addr != ":8080" || c.DatabaseURL == "" || len(c.KafkaBrokers) != 0 {
		t.Errorf("defaults: got addr %q, db %q, brokers %v", c.Addr, c.DatabaseURL, c.KafkaBrokers)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":               "postgres://u@db:5432/tv",
		"KAFKA_BROKERS":              "k1:9092, k2:9092",
		"TICKETVELO_ADDR":            "127.0.0.1:9000",
		"TICKETVELO_SHUTDOWN_DELAY":  "3s",
		"TICKETVELO_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1",
	}
	c, err := load(t, everything, env, "-addr", ":7000")
	if err != nil {
		t.Fatalf("got error %v", err)
	}
	if c.DatabaseURL != env["DATABASE_URL"] {
		t.Errorf("DatabaseURL: got %q, want %q", c.DatabaseURL, env["DATABASE_URL"])
	}
	if got := strings.Join(c.KafkaBrokers, ","); got != "k1:9092,k2:9092" {
		t.Errorf("KafkaBrokers: got %q, want k1:9092,k2:9092", got)
	}
	if c.Addr != ":7000" {
		t.Errorf("Addr: got %q, want the flag's :7000 over the environment", c.Addr)
	}
	if c.ShutdownDelay != 3*time.Second {
		t.Errorf("ShutdownDelay: got %v, want 3s", c.ShutdownDelay)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.1/32" {
		t.Errorf("TrustedProxies: got %v, want 10.0.0.0/8 and 192.168.1.1/32", c.TrustedProxies)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"database scheme", map[string]string{"DATABASE_URL": "mysql://x/y"}, nil, "DATABASE_URL"},
		{"database not a URL", map[string]string{"DATABASE_URL": "::"}, nil, "DATABASE_URL"},
		{"redis scheme", map[string]string{"REDIS_URL": "http://localhost"}, nil, "REDIS_URL"},
		{"broker without port", map[string]string{"KAFKA_BROKERS": "kafka"}, nil, "KAFKA_BROKERS"},
		{"addr", map[string]string{"TICKETVELO_ADDR": "8080"}, nil, "TICKETVELO_ADDR"},
		{"addr port range", map[string]string{"TICKETVELO_ADDR": ":70000"}, nil, "TICKETVELO_ADDR"},
		{"body limit not a number", map[string]string{"TICKETVELO_MAX_BODY_BYTES": "lots"}, nil, "TICKETVELO_MAX_BODY_BYTES"},
		{"body limit too small", map[string]string{"TICKETVELO_MAX_BODY_BYTES": "10"}, nil, "TICKETVELO_MAX_BODY_BYTES"},
		{"prefix with a brace, which would become every key's hash tag", map[string]string{"TICKETVELO_REDIS_PREFIX": "tv{1}:"}, nil, "TICKETVELO_REDIS_PREFIX"},
		{"duration", map[string]string{"TICKETVELO_SHUTDOWN_DELAY": "soon"}, nil, "TICKETVELO_SHUTDOWN_DELAY"},
		{"proxies", map[string]string{"TICKETVELO_TRUSTED_PROXIES": "10.0.0.0/99"}, nil, "TICKETVELO_TRUSTED_PROXIES"},
		{"log level", map[string]string{"TICKETVELO_LOG_LEVEL": "loud"}, nil, "TICKETVELO_LOG_LEVEL"},
		{"log format", map[string]string{"TICKETVELO_LOG_FORMAT": "xml"}, nil, "TICKETVELO_LOG_FORMAT"},
		{"seed", map[string]string{"TICKETVELO_SEED": "maybe"}, nil, "TICKETVELO_SEED"},
		{"pprof on every interface", map[string]string{"TICKETVELO_PPROF_ADDR": ":6060"}, nil, "TICKETVELO_PPROF_ADDR"},
		{"pprof on a public address", map[string]string{"TICKETVELO_PPROF_ADDR": "10.1.2.3:6060"}, nil, "TICKETVELO_PPROF_ADDR"},
		{"pprof without port", map[string]string{"TICKETVELO_PPROF_ADDR": "127.0.0.1"}, nil, "TICKETVELO_PPROF_ADDR"},
		{"flag value", nil, []string{"-addr", "nope"}, "TICKETVELO_ADDR"},
		{"store timeout", map[string]string{"TICKETVELO_STORE_TIMEOUT": "0s"}, nil, "TICKETVELO_STORE_TIMEOUT"},
		{"acquire timeout", map[string]string{"TICKETVELO_DB_ACQUIRE_TIMEOUT": "-1s"}, nil, "TICKETVELO_DB_ACQUIRE_TIMEOUT"},
		{"acquire over the store timeout", map[string]string{"TICKETVELO_DB_ACQUIRE_TIMEOUT": "3s", "TICKETVELO_STORE_TIMEOUT": "2s"}, nil, "TICKETVELO_DB_ACQUIRE_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, everything, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("got no error, want one naming %s", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Errorf("got %q, want it to start with %q", err, tc.want+":")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("got a multi-line error %q, want one line", err)
			}
		})
	}
}

func TestPprofOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:0", "localhost:6060"} {
		if c, err := load(t, everything, map[string]string{"TICKETVELO_PPROF_ADDR": addr}); err != nil || c.PprofAddr != addr {
			t.Errorf("%s: got %q and %v, want it accepted", addr, c.PprofAddr, err)
		}
	}
}

func TestFlagOverridesBrokenEnvironment(t *testing.T) {
	c, err := load(t, everything, map[string]string{"TICKETVELO_SHUTDOWN_DELAY": "soon"}, "-shutdown-delay", "2s")
	if err != nil {
		t.Fatalf("got %v, want the flag to replace the broken variable", err)
	}
	if c.ShutdownDelay != 2*time.Second {
		t.Errorf("got %v, want 2s", c.ShutdownDelay)
	}
}

func TestGroupsBindOnlyTheirFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c := Default()
	c.RegisterFlags(NewBinder(fs, func(string) string { return "" }), Stores)
	if fs.Lookup("addr") != nil {
		t.Error("Stores bound -addr, which belongs to Serving")
	}
	if fs.Lookup("database-url") == nil {
		t.Error("Stores did not bind -database-url")
	}
}

func TestKeyPath(t *testing.T) {
	c := Default()
	c.DataDir = "/var/lib/tv/"
	if got := c.KeyPath(); got != "/var/lib/tv/keys.pem" {
		t.Errorf("got %q, want /var/lib/tv/keys.pem", got)
	}
	c.KeyFile = "/etc/tv/keys.pem"
	if got := c.KeyPath(); got != "/etc/tv/keys.pem" {
		t.Errorf("got %q, want the configured file", got)
	}
}

// TestErrorsAndHelpMaskPasswords: a bad URL's error names the variable and
// shows the URL without its password, and -h shows the environment's URLs
// as defaults the same way.
func TestErrorsAndHelpMaskPasswords(t *testing.T) {
	for _, env := range []map[string]string{
		{"DATABASE_URL": "postgres://u:secret@db:bad/tv"},
		{"DATABASE_URL": "postgres://u:secret/x@db/tv"},
		{"DATABASE_URL": "mysql://u:secret@db/tv"},
		{"REDIS_URL": "redis://:secret@"},
		{"KAFKA_BROKERS": "u:secret@k1:9092"},
	} {
		_, err := load(t, everything, env)
		for name := range env {
			if err == nil || !strings.HasPrefix(err.Error(), name+":") || strings.Contains(err.Error(), "secret") {
				t.Errorf("%v: got %v, want an error naming %s without the password", env, err, name)
			}
		}
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	c := Default()
	c.RegisterFlags(NewBinder(fs, func(k string) string {
		return map[string]string{"DATABASE_URL": "postgres://u:secret@db/tv", "REDIS_URL": "redis://:secret@r:6379/0"}[k]
	}), everything)
	fs.PrintDefaults()
	if strings.Contains(help.String(), "secret") || !strings.Contains(help.String(), `"postgres://u:xxxxx@db/tv"`) {
		t.Errorf("help shows the passwords of the environment's URLs:\n%s", help.String())
	}
}

// TestEverySettingHasAFlag: every field of Config is bound by some group,
// so a new shared setting without a flag fails here.
func TestEverySettingHasAFlag(t *testing.T) {
	c := Default()
	b := NewBinder(flag.NewFlagSet("test", flag.ContinueOnError), func(string) string { return "" })
	c.RegisterFlags(b, everything)
	if unbound := b.Unbound(&c); len(unbound) > 0 {
		t.Errorf("settings without a flag: %v", unbound)
	}
}

// TestUnboundFindsFieldsWithoutAFlag: the check above sees a field left
// out, in a nested struct too, and takes a RateLimit bound whole.
func TestUnboundFindsFieldsWithoutAFlag(t *testing.T) {
	var c struct {
		A     string
		Limit RateLimit
		Inner struct {
			B time.Duration
			C int
		}
		D float64
	}
	b := NewBinder(flag.NewFlagSet("test", flag.ContinueOnError), func(string) string { return "" })
	b.Str(&c.A, "a", "A", "a")
	b.RateLimit(&c.Limit, "limit", "LIMIT", "a limit")
	b.Duration(&c.Inner.B, "b", "B", "b")
	got := strings.Join(b.Unbound(&c), " ")
	if got != "Inner.C D" {
		t.Errorf("got unbound %q, want \"Inner.C D\"", got)
	}
}

// TestBinderParsesEachKind: each kind of value from the environment and
// from a flag, the flag winning, and a variable that does not parse named
// with what was expected.
func TestBinderParsesEachKind(t *testing.T) {
	var (
		f   float64
		lim RateLimit
		n   int
	)
	env := map[string]string{"F": " 2.5", "LIM": "20/1m", "N": "many"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	b := NewBinder(fs, func(k string) string { return env[k] })
	b.Float(&f, "f", "F", "f")
	b.RateLimit(&lim, "lim", "LIM", "lim")
	b.Int(&n, "n", "N", "n")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if f != 2.5 || lim != (RateLimit{20, time.Minute}) {
		t.Errorf("got %v and %v, want 2.5 and 20/1m", f, lim)
	}
	if err := b.Err(); err == nil || err.Error() != `N: expected an integer, got "many"` {
		t.Errorf("got %v, want N: expected an integer, got \"many\"", err)
	}
	if err := fs.Parse([]string{"-n", "3", "-lim", "off"}); err != nil || b.Err() != nil || n != 3 || lim.N != 0 {
		t.Errorf("flags: got %v, %v, n %d, limit %s; want the flags over the environment", err, b.Err(), n, lim)
	}
	if err := fs.Parse([]string{"-lim", "5/10ms"}); err == nil || !strings.Contains(err.Error(), "window of at least 1s") {
		t.Errorf("got %v, want the limit's own error", err)
	}
}
