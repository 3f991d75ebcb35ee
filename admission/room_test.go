package admission_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// world is one test's waiting room on the real Redis, under its own prefix.
type world struct {
	room   *admission.Room
	fb     *admission.Feedback
	client rueidis.Client
	prefix string
	ring   *tokens.Ring
	cfg    admission.Config
	random io.Reader // the draws' random source; crypto/rand when nil
}

// newWorld is a waiting room with the default settings, changed by edit.
func newWorld(t testing.TB, edit ...func(*world)) *world {
	t.Helper()
	client, prefix := testenv.Redis(t)
	key, err := tokens.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{fb: admission.NewFeedback(client, prefix), client: client, prefix: prefix, ring: ring, cfg: admission.DefaultConfig()}
	for _, e := range edit {
		e(w)
	}
	w.room = w.gateway(t)
	return w
}

// gateway is another gateway's view of the world's waiting room. Its held
// back writes land before the test's keys are deleted.
func (w *world) gateway(t testing.TB) *admission.Room {
	r := admission.NewRoom(w.cfg, w.deps(w.client))
	t.Cleanup(r.Close)
	return r
}

// deps are what the world's rooms work with, over client.
func (w *world) deps(client rueidis.Client) admission.Deps {
	return admission.Deps{Client: client, Prefix: w.prefix, Ring: w.ring, Random: w.random}
}

var ctx = context.Background()

// join joins fans in order, one after the other, a millisecond apart.
func (w *world) join(t testing.TB, event int64, opens, now time.Time, users ...int64) {
	t.Helper()
	for i, u := range users {
		if _, _, err := w.room.Join(ctx, event, u, opens, now.Add(time.Duration(i)*time.Millisecond), admission.JoinLimits{}); err != nil {
			t.Fatalf("join of user %d: %v", u, err)
		}
	}
}

// joinMany joins users 1..n concurrently: their order is not defined.
func (w *world) joinMany(t testing.TB, event int64, opens, now time.Time, from, n int64) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(64)
	for u := from; u < from+n; u++ {
		g.Go(func() error {
			_, _, err := w.room.Join(ctx, event, u, opens, now, admission.JoinLimits{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// queue is the waiting order of the event, front first.
func (w *world) queue(t testing.TB, event int64) []int64 {
	t.Helper()
	members, err := w.client.Do(ctx, w.client.B().Zrange().Key(w.prefix+"wr:{"+strconv.FormatInt(event, 10)+"}:queue").Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(members))
	for i, m := range members {
		out[i], _ = strconv.ParseInt(m, 10, 64)
	}
	return out
}

func (w *world) status(t testing.TB, event, user int64, now time.Time) admission.Status {
	t.Helper()
	st, err := w.room.Status(ctx, event, user, now)
	if err != nil {
		t.Fatalf("status of user %d: %v", user, err)
	}
	return st
}

func (w *world) step(t testing.TB, event int64, opens, now time.Time) admission.StepResult {
	t.Helper()
	res, err := w.room.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, admission.HealthUnknown, now)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// open draws the pre-queue of an event whose sale opened.
func (w *world) open(t testing.TB, event int64, opens, now time.Time) {
	t.Helper()
	opened, err := w.room.Draw(ctx, event, opens, now)
	if err != nil || !opened {
		t.Fatalf("draw: opened %v, %v", opened, err)
	}
}

func users(from, to int64) []int64 {
	var out []int64
	for u := from; u <= to; u++ {
		out = append(out, u)
	}
	return out
}

func TestPrequeueIsDrawnAheadOfLaterFansWhoAreServedInArrivalOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 1
	opens := time.Now().Truncate(time.Second)
	before, after := opens.Add(-time.Minute), opens.Add(time.Second)

	w.join(t, event, opens, before, users(1, 20)...)
	for _, u := range []int64{1, 20} {
		if st := w.status(t, event, u, before); st.State != admission.Prequeue {
			t.Fatalf("user %d before the opening: got %v, want prequeue", u, st.State)
		}
	}
	// Fans who come after the opening but before the draw runs still go
	// behind every pre-queue fan.
	late := []int64{105, 101, 110, 102, 150}
	w.join(t, event, opens, after, late...)
	if st := w.status(t, event, 105, after); st.State != admission.Waiting || st.Ahead != 20 {
		t.Fatalf("first late fan before the draw: got %+v, want waiting with the 20 pre-queue fans ahead", st)
	}
	if res := w.step(t, event, opens, after); !res.DrawDue || res.Admitted != 0 {
		t.Fatalf("step before the draw: got %+v, want the draw due and nobody admitted", res)
	}

	w.open(t, event, opens, after)
	o, err := w.room.Overview(ctx, event, after)
	if err != nil {
		t.Fatal(err)
	}
	if o.Draw != admission.DrawDone || len(o.Seed) != 64 || o.PrequeueLength != 0 || o.QueueLength != 25 {
		t.Fatalf("overview after the draw: %+v", o)
	}
	seed := mustHex(t, o.Seed)
	want := append(admission.DrawOrder(seed, users(1, 20)), late...)
	got := w.queue(t, event)
	if !equal(got, want) {
		t.Fatalf("queue after the draw:\n got %v\nwant %v (draw order from the published seed, then arrival order)", got, want)
	}
	if equal(got[:20], users(1, 20)) {
		t.Fatal("the pre-queue kept its join order: it was not shuffled")
	}
	for i, u := range want {
		if st := w.status(t, event, u, after); st.State != admission.Waiting || st.Ahead != int64(i) {
			t.Fatalf("user %d: got %+v, want waiting with %d ahead", u, st, i)
		}
	}
	// A second draw changes nothing: the seed is drawn once.
	if opened, err := w.room.Draw(ctx, event, opens, after); opened || err != nil {
		t.Fatalf("second draw: opened %v, %v", opened, err)
	}
	if o2, _ := w.room.Overview(ctx, event, after); o2.Seed != o.Seed {
		t.Fatal("the seed changed after it was published")
	}

	// Admission takes them front first.
	w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 10, MaxActive: 100})
	w.step(t, event, opens, after)
	res := w.step(t, event, opens, after.Add(time.Second))
	if res.Admitted != 10 {
		t.Fatalf("one second at 10/s admitted %d", res.Admitted)
	}
	for i, u := range want {
		st := w.status(t, event, u, after.Add(time.Second))
		if admitted := st.State == admission.Admitted; admitted != (i < 10) {
			t.Fatalf("place %d (user %d): state %v", i, u, st.State)
		}
	}
}

func TestFirstComeFirstServedAfterTheOpening(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 7
	opens := time.Now().Add(-time.Hour)
	now := time.Now()
	w.open(t, event, opens, now)
	arrivals := []int64{500, 3, 77, 12, 9001, 4, 250, 8}
	for i, u := range arrivals {
		st, created, err := w.room.Join(ctx, event, u, opens, now.Add(time.Duration(i)*time.Millisecond), admission.JoinLimits{})
		if err != nil || !created || st.State != admission.Waiting || st.Ahead != int64(i) {
			t.Fatalf("join %d (user %d): got %+v created=%v err=%v, want waiting with %d ahead", i, u, st, created, err, i)
		}
	}
	if got := w.queue(t, event); !equal(got, arrivals) {
		t.Fatalf("queue: got %v, want arrival order %v", got, arrivals)
	}
	// A gateway that has not seen the queue open yet takes the scripts'
	// slow path and must answer the same.
	fresh := w.gateway(t)
	for i, u := range arrivals {
		slow, err := fresh.Status(ctx, event, u, now)
		if fast := w.status(t, event, u, now); err != nil || slow != fast || slow.Ahead != int64(i) {
			t.Fatalf("user %d: slow path %+v (%v), fast path %+v", u, slow, err, fast)
		}
	}
	// Joining again keeps the place.
	st, created, err := w.room.Join(ctx, event, 77, opens, now, admission.JoinLimits{})
	if err != nil || created || st.Ahead != 2 {
		t.Fatalf("second join: got %+v created=%v %v, want the same place", st, created, err)
	}
	// A gateway that has not seen the queue open joins through the general
	// script, at the back all the same.
	if st, created, err := fresh.Join(ctx, event, 600, opens, now.Add(time.Second), admission.JoinLimits{}); err != nil || !created || st.Ahead != int64(len(arrivals)) {
		t.Fatalf("join through the general script: %+v created=%v %v, want the back", st, created, err)
	}
	// Leaving moves everyone behind up.
	if err := w.room.Leave(ctx, event, 3); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, event, 12, now); st.Ahead != 2 {
		t.Fatalf("after one ahead left: got %+v, want 2 ahead", st)
	}
	if _, err := w.room.Status(ctx, event, 3, now); !errors.Is(err, admission.ErrNotInQueue) {
		t.Fatalf("status after leaving: got %v, want not_in_queue", err)
	}
	if _, err := w.room.Status(ctx, event, 424242, now); !errors.Is(err, admission.ErrNotInQueue) || apperr.As(err).Kind != apperr.NotFound {
		t.Fatalf("status of a stranger: got %v, want a 404 not_in_queue", err)
	}
	// Leaving twice is fine.
	if err := w.room.Leave(ctx, event, 3); err != nil {
		t.Fatal(err)
	}
}

func TestOnePlacePerAccountUnderAThousandConcurrentJoins(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event, fan = 3, 4242
	opens := time.Now().Add(-time.Hour)
	now := time.Now()
	w.open(t, event, opens, now)
	w.join(t, event, opens, now, users(1, 10)...) // so the place is not trivially the first

	var (
		mu      sync.Mutex
		created int
		aheads  = map[int64]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, c, err := w.room.Join(ctx, event, fan, opens, now.Add(time.Second), admission.JoinLimits{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created++
			}
			aheads[st.Ahead]++
		}()
	}
	close(start)
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d joins said they made the place, want exactly 1", created)
	}
	if len(aheads) != 1 || aheads[10] != 1000 {
		t.Fatalf("places reported: %v, want all 1000 at 10 ahead", aheads)
	}
	q := w.queue(t, event)
	count := 0
	for _, u := range q {
		if u == fan {
			count++
		}
	}
	if len(q) != 11 || count != 1 || q[10] != fan {
		t.Fatalf("queue %v: want the 10 others then the fan once", q)
	}
}

func TestAdmissionTokenIsForTheFanAndTheEventAndFreedByDoneOrExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 11
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	if err := w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 100, MaxActive: 1}); err != nil {
		t.Fatal(err)
	}
	w.join(t, event, opens, t0, 1, 2)
	w.step(t, event, opens, t0)
	res := w.step(t, event, opens, t0.Add(time.Second))
	if res.Admitted != 1 || res.Active != 1 || res.QueueLength != 1 {
		t.Fatalf("with max_active 1: %+v, want one admitted and one waiting", res)
	}
	st := w.status(t, event, 1, t0.Add(time.Second))
	if st.State != admission.Admitted || st.Token == "" {
		t.Fatalf("first fan: %+v, want admitted with a token", st)
	}
	wantExp := t0.Add(time.Second + w.cfg.AdmissionTTL)
	if !st.ExpiresAt.Equal(wantExp) {
		t.Fatalf("admission expires %v, want %v", st.ExpiresAt, wantExp)
	}
	claims, err := w.ring.VerifyAdmission(st.Token, event, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if claims.UserID != 1 || claims.EventID != event || claims.ID == "" || !claims.ExpiresAt.Equal(wantExp) {
		t.Fatalf("claims %+v, want user 1, event %d, a jti and exp %v", claims, event, wantExp)
	}
	if _, err := w.ring.VerifyAdmission(st.Token, event+1, t0.Add(2*time.Second)); !errors.Is(err, tokens.ErrWrongEvent) {
		t.Fatalf("token for another event: got %v, want token_event", err)
	}
	if _, err := w.ring.VerifyAdmission(st.Token, event, wantExp.Add(time.Second)); !errors.Is(err, tokens.ErrExpired) {
		t.Fatalf("token after the window: got %v, want token_expired", err)
	}
	if again := w.status(t, event, 1, t0.Add(3*time.Second)); again.Token != st.Token {
		t.Fatal("a second poll returned another token: every poll must return the admission's one token")
	}
	// An admitted fan who joins again keeps the admission and gets no place.
	if again, created, err := w.room.Join(ctx, event, 1, opens, t0.Add(3*time.Second), admission.JoinLimits{}); err != nil || created || again.State != admission.Admitted || again.Token != st.Token {
		t.Fatalf("join while admitted: %+v created=%v %v", again, created, err)
	}
	if q := w.queue(t, event); !equal(q, []int64{2}) {
		t.Fatalf("queue %v after an admitted fan joined again, want only user 2", q)
	}
	// The cap holds while the first buyer is active.
	if res := w.step(t, event, opens, t0.Add(5*time.Second)); res.Admitted != 0 {
		t.Fatalf("admitted %d over max_active", res.Admitted)
	}
	// The booker reports done an admission of the first buyer's that is
	// not this one (an older one's hold expired): this one stays.
	if err := w.fb.Done(ctx, event, 1, st.ExpiresAt.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if again := w.status(t, event, 1, t0.Add(5*time.Second)); again.State != admission.Admitted {
		t.Fatalf("after done of another admission: %+v, want this one admitted still", again)
	}
	// The booker reports this admission done: the slot frees.
	if err := w.fb.Done(ctx, event, 1, st.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := w.fb.Done(ctx, event, 1, time.Time{}); err != nil {
		t.Fatalf("done twice: %v", err)
	}
	if st := w.status(t, event, 1, t0.Add(6*time.Second)); st.State != admission.Expired || st.Reason != admission.EndedDone {
		t.Fatalf("after done: %+v, want expired (done)", st)
	}
	if res := w.step(t, event, opens, t0.Add(6*time.Second)); res.Admitted != 1 {
		t.Fatalf("after done the next fan must be admitted: %+v", res)
	}
	// The second buyer's window passes: the slot frees by expiry.
	second := w.status(t, event, 2, t0.Add(7*time.Second))
	if second.State != admission.Admitted {
		t.Fatalf("second fan: %+v", second)
	}
	after := second.ExpiresAt.Add(time.Millisecond)
	if st := w.status(t, event, 2, after); st.State != admission.Expired || st.Reason != admission.EndedTimeout {
		t.Fatalf("after the window: %+v, want expired (timeout)", st)
	}
	if res := w.step(t, event, opens, after); res.Expired != 1 || res.Active != 0 {
		t.Fatalf("step after the window: %+v, want the admission expired", res)
	}
	// An expired fan joins again at the back.
	w.join(t, event, opens, after, 3)
	st, created, err := w.room.Join(ctx, event, 2, opens, after.Add(time.Millisecond), admission.JoinLimits{})
	if err != nil || !created || st.State != admission.Waiting || st.Ahead != 1 {
		t.Fatalf("rejoin after expiry: %+v created=%v %v, want a new place behind user 3", st, created, err)
	}
}

func TestAbandonedFansAreSkipped(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 5
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 3, MaxActive: 100})
	w.join(t, event, opens, t0, 1, 2, 3, 4)
	w.step(t, event, opens, t0)
	// Fans 1 and 3 poll now, fan 4 every 5 s all along (this gateway
	// writes its last poll once per 10 s of those); fan 2 closed the tab.
	late := t0.Add(w.cfg.GracePeriod + 5*time.Second)
	for _, u := range []int64{1, 3} {
		w.status(t, event, u, late)
	}
	for at := t0; !at.After(late); at = at.Add(5 * time.Second) {
		w.status(t, event, 4, at)
	}
	res := w.step(t, event, opens, late.Add(time.Second)) // budget capped at one second: 3 admissions
	if res.Admitted != 3 || res.Skipped != 1 {
		t.Fatalf("step: %+v, want 3 admitted and 1 skipped", res)
	}
	for _, u := range []int64{1, 3, 4} {
		if st := w.status(t, event, u, late.Add(time.Second)); st.State != admission.Admitted {
			t.Fatalf("polling fan %d: %+v, want admitted", u, st)
		}
	}
	if st := w.status(t, event, 2, late.Add(time.Second)); st.State != admission.Expired || st.Reason != admission.EndedAbandoned {
		t.Fatalf("silent fan: %+v, want expired (abandoned)", st)
	}
	o, _ := w.room.Overview(ctx, event, late.Add(time.Second))
	if o.Abandoned != 1 || o.AdmittedTotal != 3 || o.Active != 3 || o.QueueLength != 0 {
		t.Fatalf("overview: %+v", o)
	}
}

func TestPauseStopsAdmissionAndResumeWithoutABurst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 9
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	w.joinMany(t, event, opens, t0, 1, 100)
	set := admission.Settings{RatePerSecond: 5, MaxActive: 100}
	w.room.SetSettings(ctx, event, set)
	w.step(t, event, opens, t0)
	if res := w.step(t, event, opens, t0.Add(time.Second)); res.Admitted != 5 {
		t.Fatalf("running: %+v", res)
	}
	set.Paused = true
	w.room.SetSettings(ctx, event, set)
	for i := 2; i <= 10; i++ {
		res := w.step(t, event, opens, t0.Add(time.Duration(i)*time.Second))
		if !res.Paused || res.Admitted != 0 {
			t.Fatalf("paused, second %d: %+v", i, res)
		}
	}
	o, _ := w.room.Overview(ctx, event, t0.Add(10*time.Second))
	if _, known := o.ETA(10); known {
		t.Fatal("an ETA while paused")
	}
	set.Paused = false
	w.room.SetSettings(ctx, event, set)
	// Nine paused seconds do not turn into a burst.
	if res := w.step(t, event, opens, t0.Add(11*time.Second)); res.Admitted != 5 {
		t.Fatalf("first second after resume: %+v, want 5", res)
	}
	if got, _ := w.room.Settings(ctx, event); got != set {
		t.Fatalf("settings: got %+v, want %+v", got, set)
	}
}

func TestSettingsDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	got, err := w.room.Settings(ctx, 77)
	if err != nil || got != (admission.Settings{RatePerSecond: 50, MaxActive: 500}) {
		t.Fatalf("defaults: %+v, %v", got, err)
	}
	for _, bad := range []admission.Settings{{RatePerSecond: 0, MaxActive: 5}, {RatePerSecond: -1, MaxActive: 5}, {RatePerSecond: 1e6, MaxActive: 5}, {RatePerSecond: 5, MaxActive: 0}} {
		if err := w.room.SetSettings(ctx, 77, bad); apperr.As(err).Code != "invalid_field" {
			t.Errorf("%+v: got %v, want invalid_field", bad, err)
		}
	}
	if got, _ := w.room.Settings(ctx, 77); got.RatePerSecond != 50 {
		t.Fatalf("rejected settings were stored: %+v", got)
	}
	ok := admission.Settings{RatePerSecond: 2.5, MaxActive: 7, Paused: true, Auto: true}
	if err := w.room.SetSettings(ctx, 77, ok); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.room.Settings(ctx, 77); got != ok {
		t.Fatalf("got %+v, want %+v", got, ok)
	}
}

func TestFractionalRatesAddUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 21
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	w.joinMany(t, event, opens, t0, 1, 200)
	w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 2.5, MaxActive: 1000})
	w.step(t, event, opens, t0)
	total := int64(0)
	// 44 steps of 70 ms are 3.08 s: 7.7 admissions' worth at 2.5/s.
	for i := 1; i <= 44; i++ {
		total += w.step(t, event, opens, t0.Add(time.Duration(i)*70*time.Millisecond)).Admitted
	}
	if total != 7 {
		t.Fatalf("admitted %d in 3.08 s at 2.5/s, want 7", total)
	}
}

func TestAutoModeAddsWhileHealthyAndHalvesWhenNot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 31
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	w.joinMany(t, event, opens, t0, 1, 2000)
	w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 10, MaxActive: 100000, Auto: true})

	health := func() admission.Health {
		h, err := w.room.BookerHealth(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := health(); h != admission.HealthUnknown {
		t.Fatalf("no reports yet: got %v", h)
	}
	// Without figures auto mode holds the rate.
	res, _ := w.room.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, health(), t0)
	if res.Rate != 10 {
		t.Fatalf("without figures: rate %v, want 10", res.Rate)
	}
	w.fb.ReportHealth(ctx, 80*time.Millisecond, 0.001)
	if h := health(); h != admission.Healthy {
		t.Fatalf("healthy report: got %v", h)
	}
	for i := 1; i <= 3; i++ {
		res, err := w.room.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, health(), t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if want := 10 + 5*float64(i); res.Rate != want {
			t.Fatalf("healthy second %d: rate %v, want %v", i, res.Rate, want)
		}
	}
	// Within the same second the rate moves once at most.
	if res, _ := w.room.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, health(), t0.Add(3500*time.Millisecond)); res.Rate != 25 {
		t.Fatalf("half a second later: rate %v, want still 25", res.Rate)
	}
	// A second booker process is slow: the worst report decides.
	admission.NewFeedback(w.client, w.prefix).ReportHealth(ctx, 900*time.Millisecond, 0)
	res, _ = w.room.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, health(), t0.Add(5*time.Second))
	if res.Rate != 12.5 {
		t.Fatalf("unhealthy: rate %v, want 25 halved", res.Rate)
	}
	if got, _ := w.room.Settings(ctx, event); got.RatePerSecond != 12.5 || !got.Auto {
		t.Fatalf("settings show %+v, want the rate auto mode chose", got)
	}
	// An error ratio over target is unhealthy too.
	w2 := newWorld(t)
	w2.fb.ReportHealth(ctx, time.Millisecond, 0.2)
	if h, _ := w2.room.BookerHealth(ctx, time.Now()); h != admission.Unhealthy {
		t.Fatalf("20%% errors: got %v, want unhealthy", h)
	}
	// Reports go stale.
	if h, _ := w2.room.BookerHealth(ctx, time.Now().Add(10*time.Second)); h != admission.HealthUnknown {
		t.Fatalf("10 s old report: got %v, want unknown", h)
	}
}

func TestOverviewAndETA(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event = 41
	opens := time.Now().Add(time.Hour)
	now := time.Now()
	w.join(t, event, opens, now, 1, 2, 3)
	o, err := w.room.Overview(ctx, event, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Draw != admission.DrawPending || o.Seed != "" || o.PrequeueLength != 3 || o.QueueLength != 0 {
		t.Fatalf("before the opening: %+v", o)
	}
	if opened, err := w.room.Draw(ctx, event, opens, now); opened || err != nil {
		t.Fatalf("a draw before the opening: %v, %v", opened, err)
	}
	// Before admissions are measured the ETA uses the configured rate.
	eta, ok := o.ETA(99)
	if !ok || eta != 2*time.Second {
		t.Fatalf("ETA of 100th at 50/s: %v %v, want 2s", eta, ok)
	}
	o.MeasuredRate = 10
	if eta, _ := o.ETA(99); eta != 10*time.Second {
		t.Fatalf("ETA at a measured 10/s: %v, want 10s", eta)
	}
}

func TestPollAfterGrowsWithTheDistance(t *testing.T) {
	grace := time.Minute
	near := admission.PollAfter(admission.Status{State: admission.Waiting, Ahead: 3}, 2*time.Second, true, 0, grace, 7)
	far := admission.PollAfter(admission.Status{State: admission.Waiting, Ahead: 3000}, 100*time.Second, true, 0, grace, 7)
	farther := admission.PollAfter(admission.Status{State: admission.Waiting, Ahead: 300000}, time.Hour, true, 0, grace, 7)
	if !(near < far && far < farther) {
		t.Fatalf("poll hints %v, %v, %v must grow with the distance", near, far, farther)
	}
	if near < 900*time.Millisecond || near > 1100*time.Millisecond {
		t.Fatalf("near the front: %v, want about 1 s", near)
	}
	if farther > grace/3*11/10 {
		t.Fatalf("far back: %v, must stay well under the grace period %v", farther, grace)
	}
	spread := map[time.Duration]bool{}
	for u := int64(1); u <= 50; u++ {
		spread[admission.PollAfter(admission.Status{State: admission.Waiting}, 100*time.Second, true, 0, grace, u)] = true
	}
	if len(spread) < 10 {
		t.Fatalf("50 fans got only %d different hints: a crowd would poll in step", len(spread))
	}
	pre := admission.PollAfter(admission.Status{State: admission.Prequeue}, 0, false, 8*time.Second, grace, 7)
	if pre < 1800*time.Millisecond || pre > 2200*time.Millisecond {
		t.Fatalf("8 s before the opening: %v, want about 2 s", pre)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJoinLimitsPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	// Event 51's queue is not drawn (the general join script answers);
	// event 52's is open (the lean one does).
	for _, event := range []int64{51, 52} {
		w := newWorld(t)
		opens := time.Now().Add(-time.Hour)
		if event == 52 {
			w.open(t, event, opens, time.Now())
		}
		// Half an hour ahead, so the windows neither roll over nor expire
		// in Redis during the test.
		now := time.Now().Add(30 * time.Minute)
		limits := admission.JoinLimits{Address: "203.0.113.9", PerAccount: config.RateLimit{N: 2, Per: time.Minute}, PerAddress: config.RateLimit{N: 5, Per: time.Minute}}
		// The join that makes the place is free for the account; the two
		// repeats after it are allowed, the third is not.
		for i := range 3 {
			if _, _, err := w.room.Join(ctx, event, 1, opens, now, limits); err != nil {
				t.Fatalf("event %d, join %d: %v", event, i, err)
			}
		}
		_, _, err := w.room.Join(ctx, event, 1, opens, now, limits)
		e := apperr.As(err)
		if e.Code != "rate_limited" || e.Kind != apperr.RateLimited || e.RetryAfter < 1 || e.RetryAfter > 60 {
			t.Fatalf("event %d, fourth join of one account: %v (retry after %d), want rate_limited within a minute", event, err, e.RetryAfter)
		}
		// The address has made 4 joins of its 5, the refused one included.
		if _, created, err := w.room.Join(ctx, event, 2, opens, now.Add(time.Millisecond), limits); err != nil || !created {
			t.Fatalf("event %d, join of user 2: %v", event, err)
		}
		if _, _, err := w.room.Join(ctx, event, 3, opens, now, limits); apperr.As(err).Code != "rate_limited" {
			t.Fatalf("event %d, sixth join from one address: %v, want rate_limited", event, err)
		}
		other := limits
		other.Address = "198.51.100.4"
		if _, created, err := w.room.Join(ctx, event, 3, opens, now.Add(2*time.Millisecond), other); err != nil || !created {
			t.Fatalf("event %d, the refused fan from another address: %v", event, err)
		}
		if got := w.queue(t, event); !equal(got, []int64{1, 2, 3}) {
			t.Fatalf("event %d, queue %v: refused joins must change nothing", event, got)
		}
		// The next window starts afresh.
		if _, _, err := w.room.Join(ctx, event, 1, opens, now.Add(time.Minute), limits); err != nil {
			t.Fatalf("event %d, join in the next window: %v", event, err)
		}
		// Every counter goes with its window, though the expiry is sent
		// once a window and second, not with each join.
		counters, err := w.client.Do(ctx, w.client.B().Keys().Pattern(w.prefix+"*joins:*").Build()).AsStrSlice()
		if err != nil || len(counters) < 3 {
			t.Fatalf("event %d, join counters %v: %v, want those of two address windows and an account", event, counters, err)
		}
		for _, key := range counters {
			if ttl, err := w.client.Do(ctx, w.client.B().Pttl().Key(key).Build()).AsInt64(); err != nil || ttl <= 0 {
				t.Errorf("event %d, counter %s: ttl %d ms (%v), want it to expire with its window", event, key, ttl, err)
			}
		}
	}
}

// Far-back fans are answered from their marks without Redis; while the
// queue moves under admissions and leaves on two gateways, every answer must
// still be true once the overview had time to refresh: an admitted fan is
// told so, and a waiting fan's position is never ahead of their place and
// never behind it by more than the leaves since their mark.
func TestPositionsFromMarksStayTrueWhileTheQueueMoves(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := w.gateway(t)
	const event, fans = 31, 2000
	opens := time.Now().Add(-time.Hour)
	now := time.Now().Truncate(time.Second)
	w.open(t, event, opens, now)
	w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 40, MaxActive: 100_000})
	w.join(t, event, opens, now, users(1, fans)...)
	w.step(t, event, opens, now) // starts the admission clock

	key := func(name string) string { return w.prefix + "wr:{" + strconv.Itoa(event) + "}:" + name }
	rng := rand.New(rand.NewPCG(1, 2))
	left := map[int64]bool{}
	var leaves, queuedLeaves, fromMarks int
	for round := range 40 {
		now = now.Add(700 * time.Millisecond) // past the overview's TTL
		for range rng.IntN(12) {
			u := 1 + rng.Int64N(fans)
			if left[u] {
				continue
			}
			if w.client.Do(ctx, w.client.B().Zscore().Key(key("queue")).Member(strconv.FormatInt(u, 10)).Build()).Error() == nil {
				queuedLeaves++
			}
			r := w.room
			if rng.IntN(2) == 0 {
				r = other
			}
			if err := r.Leave(ctx, event, u); err != nil {
				t.Fatal(err)
			}
			left[u] = true
			leaves++
		}
		if _, err := other.Step(ctx, admission.Sale{EventID: event, OpensAt: opens}, admission.HealthUnknown, now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(700 * time.Millisecond)
		for range 150 {
			u := 1 + rng.Int64N(fans)
			if left[u] {
				continue
			}
			st := w.status(t, event, u, now)
			rank, rankErr := w.client.Do(ctx, w.client.B().Zrank().Key(key("queue")).Member(strconv.FormatInt(u, 10)).Build()).AsInt64()
			switch {
			case rankErr == nil:
				if st.State != admission.Waiting || st.Ahead < rank || st.Ahead > rank+int64(leaves) {
					t.Fatalf("round %d: fan %d with %d ahead told %+v (%d leaves so far)", round, u, rank, st, leaves)
				}
				if st.Ahead != rank {
					fromMarks++
				}
			case rueidis.IsRedisNil(rankErr):
				if st.State != admission.Admitted {
					t.Fatalf("round %d: admitted fan %d told %+v", round, u, st)
				}
			default:
				t.Fatal(rankErr)
			}
		}
	}
	o, _ := w.room.Overview(ctx, event, now)
	if o.AdmittedTotal < 1000 || o.Removed != o.AdmittedTotal+o.Abandoned || o.Left != int64(queuedLeaves) {
		t.Fatalf("overview after the run: %+v with %d leaves from the queue; want over 1,000 admitted and the totals to add up", o, queuedLeaves)
	}
	// Positions that lag leaves show the marks were used; the bounds above
	// show they were safe.
	if fromMarks == 0 {
		t.Fatal("no position came from a mark")
	}
}
