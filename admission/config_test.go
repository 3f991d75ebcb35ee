package admission_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

func loadConfig(env map[string]string, args ...string) (admission.Config, error) {
	return config.LoadFrom(admission.DefaultConfig(), env, args...)
}

func TestConfigDefaultsAreValid(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GracePeriod != 60*time.Second || c.AdmissionTTL != 10*time.Minute || c.Interval != 100*time.Millisecond || c.RecoveryWindow != 30*time.Second || c.FanTableMB != 64 {
		t.Errorf("defaults: got %+v", c)
	}
}

func TestConfigFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{
		"TICKETVELO_QUEUE_GRACE_PERIOD":     "90s",
		"TICKETVELO_AUTO_DECREASE_FACTOR":   "0.7",
		"TICKETVELO_DEFAULT_ADMISSION_RATE": "12.5",
	}, "-admission-ttl", "5m", "-queue-recovery-window", "45s")
	if err != nil {
		t.Fatal(err)
	}
	if c.GracePeriod != 90*time.Second || c.Auto.DecreaseFactor != 0.7 || c.DefaultRate != 12.5 {
		t.Errorf("environment not applied: %+v", c)
	}
	if c.AdmissionTTL != 5*time.Minute || c.RecoveryWindow != 45*time.Second {
		t.Errorf("flags not applied: %+v", c)
	}
}

func TestConfigRejectsBadValuesNamingTheVariable(t *testing.T) {
	t.Parallel()
	for _, want := range []struct{ env, value string }{
		{"TICKETVELO_AUTO_DECREASE_FACTOR", "1.5"},
		{"TICKETVELO_ADMISSION_TTL", "9s"},
		{"TICKETVELO_ADMISSION_INTERVAL", "5s"},
		{"TICKETVELO_DEFAULT_ADMISSION_RATE", "NaN"},
		{"TICKETVELO_DEFAULT_MAX_ACTIVE", "lots"},
		{"TICKETVELO_QUEUE_RECOVERY_WINDOW", "0s"},
		{"TICKETVELO_FAN_TABLE_MB", "100"},
	} {
		_, err := loadConfig(map[string]string{want.env: want.value})
		if err == nil || !strings.HasPrefix(err.Error(), want.env+":") {
			t.Errorf("%s=%s: got %v, want an error naming %s", want.env, want.value, err, want.env)
		}
	}
}
