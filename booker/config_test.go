package booker

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

func loadConfig(env map[string]string, args ...string) (Config, error) {
	return config.LoadFrom(DefaultConfig(), env, args...)
}

func TestConfigDefaultsAreValid(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HoldTTL != 10*time.Minute || c.HoldConcurrency != 128 || c.OutboxRetention != 7*24*time.Hour {
		t.Errorf("defaults: got %+v", c)
	}
}

func TestConfigFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{"TICKETVELO_HOLD_TTL": "5m", "TICKETVELO_HOLD_ATTEMPTS": "10"}, "-hold-concurrency", "64", "-outbox-retention", "0s")
	if err != nil {
		t.Fatal(err)
	}
	if c.HoldTTL != 5*time.Minute || c.HoldAttempts != 10 || c.HoldConcurrency != 64 || c.OutboxRetention != 0 {
		t.Errorf("got %+v, want the environment's and the flags' values", c)
	}
}

func TestConfigRejectsBadValuesNamingTheVariable(t *testing.T) {
	t.Parallel()
	for _, want := range []struct{ env, value string }{
		{"TICKETVELO_HOLD_QUEUE_WAIT", "1m"},
		{"TICKETVELO_SNAPSHOT_INTERVAL", "2s"},
		{"TICKETVELO_HOLD_CONCURRENCY", "0"},
		{"TICKETVELO_SWEEP_BATCH", "many"},
		{"TICKETVELO_OUTBOX_RETENTION", "-1h"},
		{"TICKETVELO_BOOKER_REDIS_TIMEOUT", "0s"},
	} {
		_, err := loadConfig(map[string]string{want.env: want.value})
		if err == nil || !strings.HasPrefix(err.Error(), want.env+":") {
			t.Errorf("%s=%s: got %v, want an error naming %s", want.env, want.value, err, want.env)
		}
	}
}
