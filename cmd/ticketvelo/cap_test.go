package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestAnAdmissionTokenBuysOnlyWhileItsAdmissionLives: through the real
// gateway and two bookers, a fan who left, a fan whose order ended their
// admission and a fan whose window passed are each refused their next hold
// with 410 admission_expired naming why, on either booker; and the fan who
// left can still pay for the seats held while admitted.
func TestAnAdmissionTokenBuysOnlyWhileItsAdmissionLives(t *testing.T) {
	t.Parallel()
	s := newSplit(t, 100, map[string]string{"TICKETVELO_ADMISSION_TTL": "10s"})
	s.setAdmission(50, 10)
	fans := s.accounts(3, tokens.RoleFan)
	leaver, buyer, late := fans[0], fans[1], fans[2]
	wantEnded := func(a answer, why string) {
		t.Helper()
		if a.status != 410 || a.code() != "admission_expired" || a.reason() != why {
			t.Errorf("hold: got %d %s, want 410 admission_expired for reason %s", a.status, a.raw, why)
		}
	}

	tok := s.mustAdmit(leaver)
	held := s.mustHold(0, tok, 1)
	if held.status != 201 {
		t.Fatalf("hold while admitted: got %d %s", held.status, held.raw)
	}
	if a := s.must("DELETE", s.queue(), leaver.token, nil); a.status != 204 {
		t.Fatalf("leave: got %d %s", a.status, a.raw)
	}
	wantEnded(s.mustHold(1, tok, 2), "left")
	wantEnded(s.mustHold(0, tok, 2), "left")
	if a, err := s.confirm(1, leaver, holdID(held)); err != nil || a.status != 201 {
		t.Errorf("paying after leaving for seats held while admitted: got %d %s (%v), want 201", a.status, a.raw, err)
	}

	tok = s.mustAdmit(buyer)
	held = s.mustHold(1, tok, 3)
	if a, err := s.confirm(0, buyer, holdID(held)); err != nil || a.status != 201 {
		t.Fatalf("confirm: got %d %s (%v)", a.status, a.raw, err)
	}
	wantEnded(s.mustHold(0, tok, 4), "done")
	if a := s.must("GET", s.queue(), buyer.token, nil); a.body["state"] != "expired" || a.body["reason"] != "done" {
		t.Errorf("buyer's queue status after the order: got %s, want expired, reason done", a.raw)
	}

	tok = s.mustAdmit(late)
	st := s.must("GET", s.queue(), late.token, nil)
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(st.body["admission_expires_at"]))
	if err != nil {
		t.Fatalf("admission_expires_at of %s: %v", st.raw, err)
	}
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	wantEnded(s.mustHold(1, tok, 5), "timeout")
}

// TestMaxActiveBoundsTheBuyersWhenBotsLeaveAtOnce: several hundred bots
// join, leave as soon as they are admitted (which frees their slot for the
// next fan) and then try to buy with their admission tokens on both
// bookers, beside honest fans who hold a seat a moment and pay. Sampled
// all along, the fans holding seats at once never exceed max_active; no
// bot holds a seat; every honest fan buys.
func TestMaxActiveBoundsTheBuyersWhenBotsLeaveAtOnce(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, env map[string]string) {
		botsAgainstTheCap(t, env, 300, 100)
	})
}

// eachRedis runs test on a single Redis and on a three-master Redis
// Cluster, where the booker's and the waiting room's keys of one event must
// share its slot.
func eachRedis(t *testing.T, test func(t *testing.T, env map[string]string)) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		test(t, map[string]string{})
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		test(t, map[string]string{"REDIS_URL": testenv.RedisCluster(t, 3)})
	})
}

func botsAgainstTheCap(t *testing.T, env map[string]string, bots, honest int) {
	const maxActive = 50
	s := newSplit(t, 1000, env)
	s.setAdmission(200, maxActive)
	fans := s.accounts(bots+honest, tokens.RoleFan)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var peak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			var n int64
			if err := s.pool.QueryRow(ctx, `SELECT count(DISTINCT user_id) FROM holds WHERE event_id = $1 AND status = 'active'`, s.event).Scan(&n); err == nil && n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	var botHolds, bought atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(fans))
	for i, fan := range fans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i < bots {
				err = s.botBuys(ctx, fan, i, &botHolds)
			} else {
				err = s.fanBuys(ctx, fan, i, &bought)
			}
			if err != nil {
				errs <- fmt.Errorf("fan %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	cancel()
	<-sampled
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("peak fans holding seats at once: %d (max_active %d); bot holds %d; honest fans who bought %d of %d", peak.Load(), maxActive, botHolds.Load(), bought.Load(), honest)
	if p := peak.Load(); p > maxActive || p < 5 {
		t.Errorf("peak fans holding seats at once: got %d, want between 5 and max_active %d", p, maxActive)
	}
	if n := botHolds.Load(); n != 0 {
		t.Errorf("bots who left got %d holds, want none", n)
	}
	if n := bought.Load(); n != int64(honest) {
		t.Errorf("honest fans who bought: got %d, want %d", n, honest)
	}
}

// botBuys is a bot: admitted, it leaves at once and then tries to hold
// seats ten times on both bookers with its admission token.
func (s *split) botBuys(ctx context.Context, fan account, i int, holds *atomic.Int64) error {
	if err := s.join(fan); err != nil {
		return err
	}
	tok, err := s.admitted(ctx, fan)
	if err != nil {
		return err
	}
	if a, err := s.call("DELETE", s.queue(), fan.token, nil); err != nil || a.status != 204 {
		return errors.Join(err, fmt.Errorf("leave: %d %s", a.status, a.raw))
	}
	for try := range 10 {
		a, err := s.hold(try%2, tok, 500+i)
		if err != nil {
			return err
		}
		switch a.status {
		case 201:
			holds.Add(1)
		case 410:
		default:
			return fmt.Errorf("bot's hold: %d %s, want 410", a.status, a.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// fanBuys is an honest fan: admitted, they hold a seat for a moment and pay.
func (s *split) fanBuys(ctx context.Context, fan account, i int, bought *atomic.Int64) error {
	if err := s.join(fan); err != nil {
		return err
	}
	tok, err := s.admitted(ctx, fan)
	if err != nil {
		return err
	}
	a, err := s.hold(i%2, tok, i)
	if err != nil || a.status != 201 {
		return errors.Join(err, fmt.Errorf("hold: %d %s", a.status, a.raw))
	}
	time.Sleep(300 * time.Millisecond)
	if a, err = s.confirm((i+1)%2, fan, holdID(a)); err != nil || a.status != 201 {
		return errors.Join(err, fmt.Errorf("confirm: %d %s", a.status, a.raw))
	}
	bought.Add(1)
	return nil
}

// TestSoldOutReachesTheQueue: a drop where the seats run out. Once the last
// seat is held, every waiting fan's poll says sold_out within an admission
// interval; nobody is admitted while no seat is left, though slots are
// free; when the unpaid hold expires, admission goes on in queue order.
func TestSoldOutReachesTheQueue(t *testing.T) {
	t.Parallel()
	eachRedis(t, soldOutReachesTheQueue)
}

func soldOutReachesTheQueue(t *testing.T, env map[string]string) {
	const seats, waiters = 10, 20
	env["TICKETVELO_HOLD_TTL"] = "4s"
	s := newSplit(t, seats, env)
	s.setAdmission(50, seats)
	fans := s.accounts(seats+waiters, tokens.RoleFan)
	buyers, waiting := fans[:seats], fans[seats:]
	tokens := make([]string, seats)
	for i, b := range buyers {
		tokens[i] = s.mustAdmit(b)
	}
	for _, w := range waiting { // after the buyers, in this order
		if err := s.join(w); err != nil {
			t.Fatal(err)
		}
	}
	// The buyers hold every seat; then nine pay, which frees their slots,
	// and the last leaves the last seat held unpaid.
	holds := make([]string, seats)
	for i := range seats {
		held := s.mustHold(i%2, tokens[i], i)
		if held.status != 201 {
			t.Fatalf("buyer %d: got %d %s", i, held.status, held.raw)
		}
		holds[i] = holdID(held)
	}
	lastHold := time.Now()
	for i := range seats - 1 {
		if a, err := s.confirm(i%2, buyers[i], holds[i]); err != nil || a.status != 201 {
			t.Fatalf("buyer %d's confirm: got %d %s (%v)", i, a.status, a.raw, err)
		}
	}
	status := func(fan account) answer {
		a := s.must("GET", s.queue(), fan.token, nil)
		if a.status != 200 {
			t.Fatalf("poll: got %d %s", a.status, a.raw)
		}
		return a
	}
	for _, w := range waiting {
		for status(w).body["sold_out"] != true {
			if time.Since(lastHold) > 2*time.Second {
				t.Fatalf("a waiting fan still not told sold out %s after the last seat was held: %s", time.Since(lastHold), status(w).raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("every waiting fan saw sold_out %s after the last hold (admission interval 100ms)", time.Since(lastHold).Round(time.Millisecond))
	if since := time.Since(lastHold); since > 750*time.Millisecond {
		t.Errorf("sold out reached the queue after %s, want within an admission interval and a poll", since)
	}
	stats := s.must("GET", fmt.Sprintf("%s/api/v1/admin/events/%d/stats", s.gateway, s.event), s.ops, nil)
	if stats.body["sold_out"] != true || stats.body["state"] != "sold_out" {
		t.Errorf("ops stats while sold out: got %s, want sold_out true", stats.raw)
	}
	// Nine slots are free, yet nobody is let in to an empty map.
	for time.Since(lastHold) < 2*time.Second {
		for _, w := range waiting {
			if st := status(w); st.body["state"] != "waiting" {
				t.Fatalf("admitted while sold out: %s", st.raw)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The unpaid hold expires: admission resumes, front first. The fans
	// are polled from the back, so a step between two polls cannot make
	// the front look behind: whoever is seen admitted, everyone polled
	// after them (ahead of them) was admitted before.
	var admitted []int
	testenv.Eventually(t, 15*time.Second, func() error {
		admitted = admitted[:0]
		for i := len(waiting) - 1; i >= 0; i-- {
			if st := status(waiting[i]); st.body["state"] == "admitted" {
				admitted = append(admitted, i)
			} else if st.body["sold_out"] != false {
				return fmt.Errorf("waiting fan %d: %s, want sold_out false once the seat is back", i, st.raw)
			}
		}
		if len(admitted) == 0 {
			return errors.New("nobody admitted after the hold expired")
		}
		slices.Reverse(admitted)
		return nil
	})
	for k, i := range admitted {
		if i != k {
			t.Fatalf("admitted after the seat came back: places %v, want the front of the queue in order", admitted)
		}
	}
}
