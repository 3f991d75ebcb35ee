package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/salekeys"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func newStore(t *testing.T) (*Store, rueidis.Client, string) {
	t.Helper()
	rc, prefix := testenv.Redis(t)
	return New(rc, prefix, time.Second, nil), rc, prefix
}

// TestLockReleaseIsCompareAndDelete: an owner whose lock expired and was
// taken by another cannot release the other's lock; a partial set is
// released whole.
func TestLockReleaseIsCompareAndDelete(t *testing.T) {
	t.Parallel()
	r, rc, _ := newStore(t)
	ctx := context.Background()
	const event = 1
	x, busy, _, err := r.TryLock(ctx, event, []int{5, 6}, 50*time.Millisecond, "owner-x", -1)
	if err != nil || x == nil || busy != nil {
		t.Fatalf("x: got %v %v %v", x, busy, err)
	}
	time.Sleep(80 * time.Millisecond)
	y, _, _, err := r.TryLock(ctx, event, []int{6}, time.Minute, "owner-y", -1)
	if err != nil || y == nil {
		t.Fatalf("y: got %v %v", y, err)
	}
	x.Release(ctx)
	if v, err := rc.Do(ctx, rc.B().Get().Key(r.lockKey(event, 6)).Build()).ToString(); err != nil || v != "owner-y" {
		t.Fatalf("lock of seat 6 after x's release: got %q %v, want owner-y", v, err)
	}
	// z wants 4, 5, 6, 7: 6 is y's, so z takes none of them.
	z, busy, _, err := r.TryLock(ctx, event, []int{4, 5, 6, 7}, time.Minute, "owner-z", -1)
	if err != nil || z != nil || !slices.Equal(busy, []int{6}) {
		t.Fatalf("z: got %v busy %v %v, want nothing and busy [6]", z, busy, err)
	}
	for _, seat := range []int{4, 5, 7} {
		if n, _ := rc.Do(ctx, rc.B().Exists().Key(r.lockKey(event, seat)).Build()).AsInt64(); n != 0 {
			t.Errorf("seat %d is still locked after z gave up", seat)
		}
	}
}

// TestClaimReplies: each reply kind of the claim script, as Go reads it,
// for the case the script gives it: the Lua and Go halves of the contract
// agree.
func TestClaimReplies(t *testing.T) {
	t.Parallel()
	r, rc, prefix := newStore(t)
	ctx := context.Background()
	const event, user = 7, 42
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(time.Minute)
	admit := func(at time.Time) {
		t.Helper()
		err := rc.Do(ctx, rc.B().Zadd().Key(salekeys.Active(prefix, event)).ScoreMember().
			ScoreMember(float64(at.UnixMilli()), strconv.Itoa(user)).Build()).Error()
		if err != nil {
			t.Fatal(err)
		}
	}
	args := func(key string, seats ...int) ClaimArgs {
		return ClaimArgs{EventID: event, UserID: user, Key: key, Hash: "h-" + key, RequestID: "r-" + key,
			AdmissionExp: exp, Now: now, PendingTTL: time.Minute, ConflictTTL: time.Minute, Attempts: 2, Sentinel: 100, Seats: seats}
	}
	claim := func(a ClaimArgs) ClaimResult {
		t.Helper()
		res, err := r.Claim(ctx, a)
		if err != nil {
			t.Fatalf("claim %s: %v", a.Key, err)
		}
		return res
	}
	ended := func(why string) {
		t.Helper()
		if err := rc.Do(ctx, rc.B().Hset().Key(salekeys.Ended(prefix, event)).FieldValue().FieldValue(strconv.Itoa(user), why).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	ended("left")
	if res := claim(args("a")); res.Ended != "left" {
		t.Errorf("the fan left: got %+v, want ended left", res)
	}
	if err := rc.Do(ctx, rc.B().Del().Key(salekeys.Ended(prefix, event)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	past := args("a0")
	past.AdmissionExp = now.Add(-time.Second)
	if res := claim(past); res.Ended != "timeout" {
		t.Errorf("an admission lost with the waiting room, its token expired: got %+v, want ended timeout", res)
	}
	// Lost with the waiting room's keys (no score, no recorded end): the
	// live token brings the admission back, and the claim goes on.
	if res := claim(args("b")); res.Ended != "" || !res.Cold {
		t.Errorf("an admission lost with the waiting room: got %+v, want it back (and the bitmap cold)", res)
	}
	if got, err := rc.Do(ctx, rc.B().Zscore().Key(salekeys.Active(prefix, event)).Member(strconv.Itoa(user)).Build()).AsInt64(); err != nil || got != exp.UnixMilli() {
		t.Errorf("the lost admission's score: %d %v, want the token's expiry %d", got, err, exp.UnixMilli())
	}
	if err := r.SetBits(ctx, event, []int{100, 3}, true, nil); err != nil { // the sentinel and seat 3
		t.Fatal(err)
	}
	if res := claim(args("c", 2, 3)); !slices.Equal(res.Taken, []int{3}) {
		t.Errorf("seat 3 taken: got %+v, want taken [3]", res)
	}
	res := claim(args("c", 2, 3))
	if !res.HasPrev || res.Existing.Kind() != KindConflict {
		t.Fatalf("the same key again: got %+v, want its conflict record", res)
	}
	if d, err := res.Existing.Decode("h-c"); err != nil || d.RequestID != "r-c" || !slices.Equal(d.Seats, []int{3}) {
		t.Errorf("the conflict record: got %+v %v, want request r-c, seats [3]", d, err)
	}
	if res := claim(args("d", 2)); res.Wait <= 0 {
		t.Errorf("a third attempt in the window (a replay is none): got %+v, want a wait", res)
	}
	admit(exp.Add(time.Second))
	if res := claim(args("e", 2)); res.Ended != "replaced" {
		t.Errorf("a newer admission: got %+v, want ended replaced", res)
	}
}

// TestRecords: each kind of record decodes as it was made, and only for
// its own request.
func TestRecords(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name string
		rec  Record
		want Decoded
		err  error
	}{
		{"an answer", DoneRecord(hash, 201, 0, []byte(`{"hold":{}}`)), Decoded{Kind: KindDone, Status: 201, Body: []byte(`{"hold":{}}`)}, nil},
		{"an answer with Retry-After", DoneRecord(hash, 429, 600, []byte("{}")), Decoded{Kind: KindDone, Status: 429, RetryAfter: 600, Body: []byte("{}")}, nil},
		{"a conflict", ConflictPrefix(hash, "req-1") + "3,4", Decoded{Kind: KindConflict, RequestID: "req-1", Seats: []int{3, 4}}, nil},
		{"a request still running", PendingRecord(hash), Decoded{Kind: KindPending}, nil},
		{"an outcome unknown", UnknownRecord(hash), Decoded{Kind: KindUnknown}, nil},
		{"another request's", DoneRecord("ffff"+hash[4:], 201, 0, nil), Decoded{}, ErrOtherRequest},
		{"a corrupt answer", newRecord(KindDone, hash) + "20x", Decoded{}, ErrCorrupt},
		{"a corrupt conflict", ConflictPrefix(hash, "req-1") + "3,x", Decoded{}, ErrCorrupt},
		{"an unknown kind", newRecord('Z', hash), Decoded{}, ErrCorrupt},
	}
	for _, c := range cases {
		got, err := c.rec.Decode(hash)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: got error %v, want %v", c.name, err, c.err)
			continue
		}
		if got.Kind != c.want.Kind || got.Status != c.want.Status || got.RetryAfter != c.want.RetryAfter ||
			string(got.Body) != string(c.want.Body) || got.RequestID != c.want.RequestID || !slices.Equal(got.Seats, c.want.Seats) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
