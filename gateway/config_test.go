package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

func loadConfig(env map[string]string, args ...string) (gateway.Config, error) {
	return config.LoadFrom(gateway.DefaultConfig(), env, args...)
}

func TestConfigDefaultsAreValid(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admission.GracePeriod != 60*time.Second || c.Admission.AdmissionTTL != 10*time.Minute || c.JoinPerAccount != (config.RateLimit{N: 30, Per: time.Minute}) {
		t.Fatalf("defaults: got %+v", c)
	}
	if c.RoleCacheTTL != 5*time.Second || c.Hashing.Wait != 3*time.Second || c.Hashing.Concurrency != 0 {
		t.Fatalf("role cache TTL %s, hash wait %s, hash concurrency %d: want 5s, 3s, 0", c.RoleCacheTTL, c.Hashing.Wait, c.Hashing.Concurrency)
	}
	if c.LoginPerAccountIP != (config.RateLimit{N: 10, Per: time.Minute}) || c.LoginPerAccount != (config.RateLimit{N: 100, Per: time.Minute}) {
		t.Fatalf("login defaults: got %s per account and address, %s per account; want 10/1m and 100/1m", c.LoginPerAccountIP, c.LoginPerAccount)
	}
}

// TestLoginCapMustBeOutOfOneAddresssReach: the per-account cap of failed
// logins is refused when one address could fill it alone, counting the
// windows of each limit that one window of the cap can touch.
func TestLoginCapMustBeOutOfOneAddresssReach(t *testing.T) {
	t.Parallel()
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
			_, err := loadConfig(c.env)
			if c.ok && err != nil {
				t.Fatalf("got %v, want the settings accepted", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "TICKETVELO_LIMIT_LOGIN_ACCOUNT:")) {
				t.Fatalf("got %v, want an error naming TICKETVELO_LIMIT_LOGIN_ACCOUNT", err)
			}
		})
	}
}

func TestConfigFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{
		"TICKETVELO_QUEUE_GRACE_PERIOD": "90s",
		"TICKETVELO_LIMIT_LOGIN_IP":     "off",
	}, "-limit-join-ip", "1000/10s", "-admission-ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	if c.Admission.GracePeriod != 90*time.Second || c.LoginPerIP.N != 0 {
		t.Fatalf("environment not applied: %+v", c)
	}
	if c.JoinPerIP != (config.RateLimit{N: 1000, Per: 10 * time.Second}) || c.Admission.AdmissionTTL != 5*time.Minute {
		t.Fatalf("flags not applied: %+v", c)
	}
}

func TestConfigRejectsBadValuesNamingTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"TICKETVELO_LIMIT_JOIN_IP": "lots"}, nil, "TICKETVELO_LIMIT_JOIN_IP"},
		{map[string]string{"TICKETVELO_ADMISSION_TTL": "90500ms"}, nil, "TICKETVELO_ADMISSION_TTL"}, // the admission's, within
		{map[string]string{"TICKETVELO_ROLE_CACHE_TTL": "1h"}, nil, "TICKETVELO_ROLE_CACHE_TTL"},
		{map[string]string{"TICKETVELO_HASH_WAIT": "0s"}, nil, "TICKETVELO_HASH_WAIT"},
		{map[string]string{"TICKETVELO_HASH_CONCURRENCY": "-1"}, nil, "TICKETVELO_HASH_CONCURRENCY"},
		{map[string]string{"TICKETVELO_SEEN_TOKENS_MB": "-1"}, nil, "TICKETVELO_SEEN_TOKENS_MB"},
		{nil, []string{"-role-cache-ttl", "-1s"}, "TICKETVELO_ROLE_CACHE_TTL"},
		{nil, []string{"-limit-login-account", "5/10ms"}, "window of at least 1s"},
	}
	for _, c := range cases {
		_, err := loadConfig(c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v args %v: got %v, want an error naming %s", c.env, c.args, err, c.want)
		}
	}
}
