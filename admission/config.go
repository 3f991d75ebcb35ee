package admission

import (
	"fmt"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// Config holds the settings of the waiting room and the admission
// controller. Ops set each event's rate and cap at run time; these are
// what applies until they do, and how the room and the controller behave.
type Config struct {
	// AdmissionTTL is how long an admitted buyer may buy: the admission
	// token's lifetime, in whole seconds.
	AdmissionTTL time.Duration
	// GracePeriod is how long a fan may stop polling before losing their
	// place at admission.
	GracePeriod time.Duration
	// Interval is how often each gateway runs the admission step of each
	// event on sale.
	Interval time.Duration
	// DefaultRate (admissions per second) and DefaultMaxActive (admitted
	// buyers at once) apply to an event until ops set its own.
	DefaultRate      float64
	DefaultMaxActive int
	// RecoveryWindow is how long admission waits after a queue's keys were
	// found lost, for its fans to come back with their place receipts:
	// longer than a far-back fan's poll interval, so the old front goes
	// first.
	RecoveryWindow time.Duration
	// FanTableMB is the memory each gateway keeps of the fans whose polls
	// it serves (32 bytes a fan, a power of two): a fan it has no room
	// for costs Redis a round trip a poll instead of nearly none.
	FanTableMB int
	Auto       AutoConfig
}

// AutoConfig steers auto mode's AIMD on the rate from the bookers' figures.
type AutoConfig struct {
	// TargetP99 and TargetErrors (a ratio, 0 to 1) are what the bookers
	// must stay under for the rate to rise.
	TargetP99    time.Duration
	TargetErrors float64
	// Increase is added to the rate each second while healthy;
	// DecreaseFactor multiplies it each second while not.
	Increase       float64
	DecreaseFactor float64
	// MinRate and MaxRate bound what auto mode sets.
	MinRate float64
	MaxRate float64
}

// DefaultConfig returns the settings a gateway runs with unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		AdmissionTTL:     10 * time.Minute,
		GracePeriod:      60 * time.Second,
		Interval:         100 * time.Millisecond,
		DefaultRate:      50,
		DefaultMaxActive: 500,
		RecoveryWindow:   30 * time.Second,
		// 2^21 fans; a drop of millions across a few gateways wants more.
		FanTableMB: 64,
		Auto: AutoConfig{
			TargetP99:      500 * time.Millisecond,
			TargetErrors:   0.01,
			Increase:       5,
			DecreaseFactor: 0.5,
			MinRate:        1,
			MaxRate:        2000,
		},
	}
}

// RegisterFlags binds every setting to a flag of b.
func (c *Config) RegisterFlags(b *config.Binder) {
	b.Duration(&c.AdmissionTTL, "admission-ttl", "TICKETVELO_ADMISSION_TTL", "how long an admitted buyer may buy (the admission token's lifetime, whole seconds)")
	b.Duration(&c.GracePeriod, "queue-grace-period", "TICKETVELO_QUEUE_GRACE_PERIOD", "fans who stop polling for longer lose their place at admission")
	b.Duration(&c.Interval, "admission-interval", "TICKETVELO_ADMISSION_INTERVAL", "how often each gateway runs the admission step of each event on sale")
	b.Float(&c.DefaultRate, "default-admission-rate", "TICKETVELO_DEFAULT_ADMISSION_RATE", "admissions per second of an event whose rate ops have not set")
	b.Int(&c.DefaultMaxActive, "default-max-active", "TICKETVELO_DEFAULT_MAX_ACTIVE", "admitted buyers at once of an event whose cap ops have not set")
	b.Duration(&c.RecoveryWindow, "queue-recovery-window", "TICKETVELO_QUEUE_RECOVERY_WINDOW", "how long admission of an event waits after its queue was lost in Redis, for its fans to come back with their place receipts (longer than a far-back fan's poll interval)")
	b.Int(&c.FanTableMB, "fan-table-mb", "TICKETVELO_FAN_TABLE_MB", "memory (MB, a power of two) each gateway keeps of the waiting fans whose polls it serves, 32 bytes a fan; polls of fans past it each cost a Redis round trip")
	b.Duration(&c.Auto.TargetP99, "auto-target-p99", "TICKETVELO_AUTO_TARGET_P99", "auto mode raises the rate while the booker's p99 latency stays under this")
	b.Float(&c.Auto.TargetErrors, "auto-target-error-rate", "TICKETVELO_AUTO_TARGET_ERROR_RATE", "auto mode raises the rate while the booker's error ratio (0-1) stays under this")
	b.Float(&c.Auto.Increase, "auto-increase", "TICKETVELO_AUTO_INCREASE", "admissions per second auto mode adds each second while the booker is healthy")
	b.Float(&c.Auto.DecreaseFactor, "auto-decrease-factor", "TICKETVELO_AUTO_DECREASE_FACTOR", "factor (0-1) auto mode multiplies the rate by when the booker is not")
	b.Float(&c.Auto.MinRate, "auto-min-rate", "TICKETVELO_AUTO_MIN_RATE", "auto mode never goes below this rate")
	b.Float(&c.Auto.MaxRate, "auto-max-rate", "TICKETVELO_AUTO_MAX_RATE", "auto mode never goes above this rate")
}

// Validate names the variable of the first setting that is wrong.
func (c *Config) Validate() error {
	switch {
	case c.AdmissionTTL < 10*time.Second || c.AdmissionTTL%time.Second != 0:
		return fmt.Errorf("TICKETVELO_ADMISSION_TTL: expected whole seconds, at least 10s, got %s", c.AdmissionTTL)
	case c.GracePeriod < 5*time.Second:
		return fmt.Errorf("TICKETVELO_QUEUE_GRACE_PERIOD: expected at least 5s, got %s", c.GracePeriod)
	case c.Interval < 10*time.Millisecond || c.Interval > time.Second:
		return fmt.Errorf("TICKETVELO_ADMISSION_INTERVAL: expected 10ms to 1s so settings apply within a second, got %s", c.Interval)
	case !(c.DefaultRate > 0):
		return fmt.Errorf("TICKETVELO_DEFAULT_ADMISSION_RATE: expected a positive rate, got %v", c.DefaultRate)
	case c.DefaultMaxActive < 1:
		return fmt.Errorf("TICKETVELO_DEFAULT_MAX_ACTIVE: expected at least 1, got %d", c.DefaultMaxActive)
	case c.RecoveryWindow < time.Second || c.RecoveryWindow > 10*time.Minute:
		return fmt.Errorf("TICKETVELO_QUEUE_RECOVERY_WINDOW: expected 1s to 10m, got %s", c.RecoveryWindow)
	case c.FanTableMB < 1 || c.FanTableMB > 16384 || c.FanTableMB&(c.FanTableMB-1) != 0:
		return fmt.Errorf("TICKETVELO_FAN_TABLE_MB: expected a power of two from 1 to 16384, got %d", c.FanTableMB)
	}
	return c.Auto.validate()
}

func (a *AutoConfig) validate() error {
	switch {
	case a.TargetP99 <= 0:
		return fmt.Errorf("TICKETVELO_AUTO_TARGET_P99: expected a positive duration, got %s", a.TargetP99)
	case !(a.TargetErrors > 0 && a.TargetErrors < 1):
		return fmt.Errorf("TICKETVELO_AUTO_TARGET_ERROR_RATE: expected a ratio between 0 and 1, got %v", a.TargetErrors)
	case !(a.Increase > 0):
		return fmt.Errorf("TICKETVELO_AUTO_INCREASE: expected a positive rate, got %v", a.Increase)
	case !(a.DecreaseFactor > 0 && a.DecreaseFactor < 1):
		return fmt.Errorf("TICKETVELO_AUTO_DECREASE_FACTOR: expected a factor between 0 and 1, got %v", a.DecreaseFactor)
	case !(a.MinRate > 0 && a.MinRate <= a.MaxRate):
		return fmt.Errorf("TICKETVELO_AUTO_MIN_RATE / TICKETVELO_AUTO_MAX_RATE: expected 0 < min <= max, got %v and %v", a.MinRate, a.MaxRate)
	}
	return nil
}
