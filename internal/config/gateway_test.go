package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func bindGateway(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Config
	check := c.Bind(fs, Gateway, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, check()
}

func TestGatewayDefaultsAreValid(t *testing.T) {
	c, err := bindGateway(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.GracePeriod != 60*time.Second || g.AdmissionTTL != 10*time.Minute || g.JoinPerAccount != (RateLimit{30, time.Minute}) {
		t.Fatalf("defaults: got %+v", g)
	}
	if g.RoleCacheTTL != 5*time.Second || g.HashWait != 3*time.Second || g.HashConcurrency != 0 {
		t.Fatalf("role cache TTL %s, hash wait %s, hash concurrency %d: want 5s, 3s, 0", g.RoleCacheTTL, g.HashWait, g.HashConcurrency)
	}
	if g.LoginPerAccountIP != (RateLimit{10, time.Minute}) || g.LoginPerAccount != (RateLimit{100, time.Minute}) {
		t.Fatalf("login defaults: got %s per account and address, %s per account; want 10/1m and 100/1m", g.LoginPerAccountIP, g.LoginPerAccount)
	}
}

// TestLoginCapMustBeOutOfOneAddresssReach: the per-account cap of failed
// logins is refused when one address could fill it alone, counting the
// windows of each limit that one window of the cap can touch.
func TestLoginCapMustBeOutOfOneAddresssReach(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		ok   bool
	}{
		{"defaults", nil, true},
		{"cap equal to one address's failures", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT": "10/1m"}, false},
		{"cap off", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT": "off"}, true},
		{"nested windows, just above", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP": "5/10s", "TICKETVELO_LIMIT_LOGIN_ACCOUNT": "31/1m"}, true},
		{"nested windows, reachable", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP": "5/10s", "TICKETVELO_LIMIT_LOGIN_ACCOUNT": "30/1m"}, false},
		{"windows that do not nest", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP": "10/40s", "TICKETVELO_LIMIT_LOGIN_ACCOUNT": "30/1m"}, false},
		{"per-address limit alone bounds it", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP": "off", "TICKETVELO_LIMIT_LOGIN_IP": "20/1m", "TICKETVELO_LIMIT_LOGIN_ACCOUNT": "21/1m"}, true},
		{"nothing bounds one address", map[string]string{"TICKETVELO_LIMIT_LOGIN_ACCOUNT_IP": "off", "TICKETVELO_LIMIT_LOGIN_IP": "off"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := bindGateway(t, c.env)
			if c.ok && err != nil {
				t.Fatalf("got %v, want the settings accepted", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "TICKETVELO_LIMIT_LOGIN_ACCOUNT:")) {
				t.Fatalf("got %v, want an error naming TICKETVELO_LIMIT_LOGIN_ACCOUNT", err)
			}
		})
	}
}

func TestGatewayFlagsAndEnvironment(t *testing.T) {
	c, err := bindGateway(t, map[string]string{
		"TICKETVELO_QUEUE_GRACE_PERIOD":     "90s",
		"TICKETVELO_LIMIT_LOGIN_IP":         "off",
		"TICKETVELO_AUTO_DECREASE_FACTOR":   "0.7",
		"TICKETVELO_DEFAULT_ADMISSION_RATE": "12.5",
	}, "-limit-join-ip", "1000/10s", "-admission-ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.GracePeriod != 90*time.Second || g.LoginPerIP.N != 0 || g.AutoDecreaseFactor != 0.7 || g.DefaultRate != 12.5 {
		t.Fatalf("environment not applied: %+v", g)
	}
	if g.JoinPerIP != (RateLimit{1000, 10 * time.Second}) || g.AdmissionTTL != 5*time.Minute {
		t.Fatalf("flags not applied: %+v", g)
	}
}

func TestGatewayRejectsBadValuesNamingTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TICKETVELO_LIMIT_JOIN_IP": "lots"}, nil, "TICKETVELO_LIMIT_JOIN_IP"},
		{map[string]string{"TICKETVELO_AUTO_DECREASE_FACTOR": "1.5"}, nil, "TICKETVELO_AUTO_DECREASE_FACTOR"},
		{map[string]string{"TICKETVELO_ADMISSION_TTL": "90500ms"}, nil, "TICKETVELO_ADMISSION_TTL"},
		{map[string]string{"TICKETVELO_ADMISSION_INTERVAL": "5s"}, nil, "TICKETVELO_ADMISSION_INTERVAL"},
		{map[string]string{"TICKETVELO_DEFAULT_ADMISSION_RATE": "NaN"}, nil, "TICKETVELO_DEFAULT_ADMISSION_RATE"},
		{map[string]string{"TICKETVELO_ROLE_CACHE_TTL": "1h"}, nil, "TICKETVELO_ROLE_CACHE_TTL"},
		{map[string]string{"TICKETVELO_HASH_WAIT": "0s"}, nil, "TICKETVELO_HASH_WAIT"},
		{map[string]string{"TICKETVELO_HASH_CONCURRENCY": "-1"}, nil, "TICKETVELO_HASH_CONCURRENCY"},
		{nil, []string{"-role-cache-ttl", "-1s"}, "TICKETVELO_ROLE_CACHE_TTL"},
		{nil, []string{"-limit-login-account", "5/10ms"}, "window of at least 1s"},
	}
	for _, c := range cases {
		_, err := bindGateway(t, c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v args %v: got %v, want an error naming %s", c.env, c.args, err, c.want)
		}
	}
}
