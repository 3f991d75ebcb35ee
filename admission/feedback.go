package admission

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Feedback is what the booker tells the waiting room: a buyer is done, and
// how healthy the booker is. It needs only Redis, so a booker-only process
// builds one too.
type Feedback struct {
	client   rueidis.Client
	prefix   string
	instance string // this process's field in the health hash
	now      func() time.Time
}

// NewFeedback returns the booker's link to the waiting room stored in
// client under prefix.
func NewFeedback(client rueidis.Client, prefix string) *Feedback {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Feedback{client: client, prefix: prefix, instance: hex.EncodeToString(b), now: time.Now}
}

// Done ends the buyer's admission that expires at admission (order
// confirmed, hold expired) and frees its slot, so the controller can admit
// the next fan. A newer admission of the same fan (they left and came back)
// is left alone; a zero admission ends whichever they have. It is
// idempotent; the buyer's status then reads expired, reason done.
func (f *Feedback) Done(ctx context.Context, eventID, userID int64, admission time.Time) error {
	k := newEventKeys(f.prefix, eventID)
	exp := ""
	if !admission.IsZero() {
		exp = strconv.FormatInt(admission.UnixMilli(), 10)
	}
	err := doneScript.Exec(ctx, f.client, []string{k.active, k.tokens, k.ended}, []string{strconv.FormatInt(userID, 10), exp}).Error()
	if err != nil {
		return fmt.Errorf("freeing the admission of user %d for event %d: %w", userID, eventID, err)
	}
	return nil
}

// ReportHealth publishes this booker's recent p99 latency and error ratio
// for auto mode. Each booker process reports under its own field; the
// controller judges by the worst fresh report.
func (f *Feedback) ReportHealth(ctx context.Context, p99 time.Duration, errorRate float64) error {
	v := strconv.FormatInt(f.now().UnixMilli(), 10) + " " + strconv.FormatInt(p99.Microseconds(), 10) + " " + strconv.FormatFloat(errorRate, 'g', 6, 64)
	key := healthKey(f.prefix)
	res := f.client.DoMulti(ctx,
		f.client.B().Hset().Key(key).FieldValue().FieldValue(f.instance, v).Build(),
		f.client.B().Pexpire().Key(key).Milliseconds(staleHealth.Milliseconds()).Build(),
	)
	for _, r := range res {
		if err := r.Error(); err != nil {
			return fmt.Errorf("publishing booker health: %w", err)
		}
	}
	return nil
}

// Health is the bookers' state as auto mode sees it.
type Health int

// Health verdicts, as the step script takes them.
const (
	HealthUnknown Health = -1 // no fresh report: auto mode holds the rate
	Unhealthy     Health = 0
	Healthy       Health = 1
)

const (
	freshHealth = 5 * time.Second // reports older than this are not believed
	staleHealth = time.Minute     // reports older than this are deleted
)

// BookerHealth judges the bookers by their worst fresh report against the
// targets, and drops the reports of bookers gone for a minute.
func (r *Room) BookerHealth(ctx context.Context, now time.Time) (Health, error) {
	key := healthKey(r.prefix)
	reports, err := r.client.Do(ctx, r.client.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return HealthUnknown, fmt.Errorf("reading booker health: %w", err)
	}
	verdict := HealthUnknown
	var gone []string
	for field, v := range reports {
		parts := strings.Fields(v)
		if len(parts) != 3 {
			gone = append(gone, field)
			continue
		}
		at, err1 := strconv.ParseInt(parts[0], 10, 64)
		p99, err2 := strconv.ParseInt(parts[1], 10, 64)
		errRate, err3 := strconv.ParseFloat(parts[2], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			gone = append(gone, field)
			continue
		}
		switch age := now.Sub(time.UnixMilli(at)); {
		case age > staleHealth:
			gone = append(gone, field)
		case age <= freshHealth:
			if time.Duration(p99)*time.Microsecond > r.cfg.Auto.TargetP99 || errRate > r.cfg.Auto.TargetErrors {
				verdict = Unhealthy
			} else if verdict == HealthUnknown {
				verdict = Healthy
			}
		}
	}
	if len(gone) > 0 {
		_ = r.client.Do(ctx, r.client.B().Hdel().Key(key).Field(gone...).Build()).Error()
	}
	return verdict, nil
}
