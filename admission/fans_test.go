package admission

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestFansWriteALastPollOncePerInterval(t *testing.T) {
	tc := newFans(10*time.Second, 64)
	t0 := time.Unix(1_800_000_000, 0)
	steps := []struct {
		event, user int64
		at          time.Duration
		want        bool
	}{
		{1, 7, 0, true},                // first poll
		{1, 7, 3 * time.Second, false}, // within the interval
		{1, 8, 3 * time.Second, true},  // another fan
		{2, 7, 3 * time.Second, true},  // the same fan, another event
		{1, 7, 9 * time.Second, false}, // still within
		{1, 7, 10 * time.Second, true}, // the interval passed
		{1, 7, 5 * time.Second, true},  // the clock went back: write
		{1, 7, 6 * time.Second, false}, // and count from there
	}
	for i, s := range steps {
		if got, _, _ := tc.poll(s.event, s.user, t0.Add(s.at), time.Minute, 0); got != s.want {
			t.Fatalf("step %d (event %d user %d at +%s): due %v, want %v", i, s.event, s.user, s.at, got, s.want)
		}
	}
	never := newFans(0, 64)
	for i := range 3 {
		if touch, _, _ := never.poll(1, 1, t0, time.Minute, 0); !touch {
			t.Fatalf("with no interval every poll must be written; poll %d was not", i)
		}
	}
	// Fans who share a set cost each other writes, never skip one: with
	// one set of two slots, three fans polling in turn are written every
	// time.
	one := newFanTable(10*time.Second, 2)
	for i := range 9 {
		if touch, _, _ := one.poll(1, int64(100+i%3), t0.Add(time.Duration(i)*time.Second), time.Minute, 0); !touch {
			t.Fatalf("poll %d of a fan sharing the set was not written", i)
		}
	}
	if touch, _, _ := one.poll(1, 102, t0.Add(8*time.Second), time.Minute, 0); touch {
		t.Fatal("the slot's own fan, just written, was written again")
	}
	// Two fans fit the set's two ways: neither knocks the other out.
	two := newFanTable(10*time.Second, 2)
	two.poll(1, 100, t0, time.Minute, 0)
	two.poll(1, 101, t0.Add(time.Second), time.Minute, 0)
	if touch, _, _ := two.poll(1, 100, t0.Add(2*time.Second), time.Minute, 0); touch {
		t.Fatal("a fan was knocked out of its set by one other fan")
	}
}

func TestFansRememberAMarkForItsFanAndAge(t *testing.T) {
	tc := newFans(10*time.Second, 64)
	t0 := time.Unix(1_800_000_000, 0)
	m := mark{seq: 1234, left: 5}
	tc.remember(1, 7, m, t0)
	if _, got, ok := tc.poll(1, 7, t0.Add(59*time.Second), time.Minute, 0); !ok || got != m {
		t.Fatalf("mark within its age: %v %v, want %v", got, ok, m)
	}
	if _, _, ok := tc.poll(1, 7, t0.Add(time.Minute), time.Minute, 0); ok {
		t.Fatal("a mark as old as maxAge was used")
	}
	if _, _, ok := tc.poll(1, 7, t0.Add(-time.Second), time.Minute, 0); ok {
		t.Fatal("a mark from the future (the clock went back) was used")
	}
	if _, _, ok := tc.poll(2, 7, t0, time.Minute, 0); ok {
		t.Fatal("the fan's mark answered for another event")
	}
	if _, _, ok := tc.poll(1, 7, t0.Add(time.Second), time.Minute, uint32(t0.Unix())+1); ok {
		t.Fatal("a mark read before the queue was lost was used")
	}
	tc.remember(1, 7, m, t0)
	tc.forget(1, 7)
	if _, _, ok := tc.poll(1, 7, t0, time.Minute, 0); ok {
		t.Fatal("a forgotten mark was used")
	}
	one := newFanTable(10*time.Second, 2)
	one.remember(1, 100, m, t0)
	one.remember(1, 101, mark{seq: 9}, t0.Add(time.Second))
	one.remember(1, 102, mark{seq: 8}, t0.Add(2*time.Second))
	if _, _, ok := one.poll(1, 100, t0, time.Minute, 0); ok {
		t.Fatal("a fan whose slot another fan took kept its mark")
	}
	if _, got, ok := one.poll(1, 102, t0.Add(2*time.Second), time.Minute, 0); !ok || got.seq != 8 {
		t.Fatal("the newest fan of the set lost its mark")
	}
}

func TestWaitingAheadIsSureOnlyBeyondWhatTheStaleOverviewMayHide(t *testing.T) {
	o := Overview{Settings: Settings{RatePerSecond: 10}, MeasuredRate: 4, Removed: 100, Left: 7}
	m := mark{seq: 200, left: 2} // 100 ahead at most; 5 left since
	ahead, sure := o.waitingAhead(m)
	if ahead != 100 || !sure {
		t.Fatalf("waitingAhead: %d %v, want 100 and sure", ahead, sure)
	}
	// slack: two seconds at the rate (20) + 16 + the 5 leaves = 41.
	for _, c := range []struct {
		seq  uint32
		sure bool
	}{{141, false}, {142, true}} {
		if _, sure := o.waitingAhead(mark{seq: c.seq, left: 2}); sure != c.sure {
			t.Fatalf("seq %d: sure %v, want %v", c.seq, sure, c.sure)
		}
	}
	o.MeasuredRate = 50 // a measured rate above the setting counts
	if _, sure := o.waitingAhead(mark{seq: 216, left: 7}); sure {
		t.Fatal("116 ahead with 100 + 16 of slack counted as sure")
	}
}

// BenchmarkFansPoll polls fans in random order across a full-size table, as
// far-back polls arrive: each lookup misses the CPU's caches.
func BenchmarkFansPoll(b *testing.B) {
	t := newFans(10*time.Second, 64)
	const crowd = 400_000
	now := time.Unix(1_800_000_000, 0)
	for u := int64(1); u <= crowd; u++ {
		t.joined(1, u, mark{seq: uint32(u)}, now)
	}
	order := rand.Perm(crowd)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.poll(1, int64(order[i%crowd]+1), now, time.Minute, 0)
	}
}

// TestFanTableTakesTheMemoryConfigured: TICKETVELO_FAN_TABLE_MB buys 32
// bytes a fan, so the default 64 MB remembers 2^21 fans.
func TestFanTableTakesTheMemoryConfigured(t *testing.T) {
	for mb, want := range map[int]int{1: 1 << 15, 64: 1 << 21} {
		if got := len(newFans(10*time.Second, mb).slots); got != want {
			t.Errorf("%d MB: got %d slots, want %d", mb, got, want)
		}
	}
}
