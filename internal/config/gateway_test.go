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
		{nil, []string{"-limit-login-account", "5/10ms"}, "window of at least 1s"},
	}
	for _, c := range cases {
		_, err := bindGateway(t, c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v args %v: got %v, want an error naming %s", c.env, c.args, err, c.want)
		}
	}
}
