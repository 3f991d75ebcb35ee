package admission

import (
	"math"
	"time"
)

// rateTau is the time constant of the measured admission rate: it follows a
// change of rate within a few seconds without jumping at every step.
const rateTau = 5 * time.Second

// decayed is a measured rate age after it was last updated, with no
// admissions since.
func decayed(rate float64, age time.Duration) float64 {
	if age <= 0 {
		return rate
	}
	return rate * math.Exp(-age.Seconds()/rateTau.Seconds())
}

// ETA is how long a fan with ahead fans in front of them should expect to
// wait: from the measured rate once admissions run, from the configured one
// before. Unknown (false) while admission is paused or the event sold out.
func (o Overview) ETA(ahead int64) (time.Duration, bool) {
	if o.Settings.Paused || o.SoldOut {
		return 0, false
	}
	rate := o.MeasuredRate
	if rate < 0.05 {
		rate = o.Settings.RatePerSecond
	}
	if rate <= 0 {
		return 0, false
	}
	secs := float64(ahead+1) / rate
	if secs > 30*24*3600 {
		secs = 30 * 24 * 3600
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Second), true
}

// Poll hints.
const (
	minPoll = time.Second
	maxPoll = 30 * time.Second
)

// PollAfter is how long a client should wait before asking again. It grows
// with the distance to the front (a tenth of the expected wait) and with the
// time to the opening, between a second and a third of the grace period, so
// fans who poll as told are never taken for gone. It is spread ±10% by user
// id so a crowd that joined together does not poll in step.
func PollAfter(st Status, eta time.Duration, etaKnown bool, opensIn, grace time.Duration, userID int64) time.Duration {
	ceiling := min(maxPoll, grace/3)
	var d time.Duration
	switch st.State {
	case Prequeue:
		d = opensIn / 4
	case Waiting:
		d = eta / 10
		if !etaKnown {
			d = 5 * time.Second
		}
	default:
		d = ceiling
	}
	d = max(minPoll, min(d, ceiling))
	frac := math.Mod(float64(uint64(userID)*0x9E3779B97F4A7C15>>11)/float64(1<<53), 1)
	d = time.Duration(float64(d) * (0.9 + 0.2*frac))
	return d.Round(10 * time.Millisecond)
}
