package deadline

import (
	"sync"
	"testing"
	"time"
)

// TestSharedContextsEndWithinTheirBound: calls within one grain share a
// context; each context ends no sooner than timeout after the call that got
// it and no later than timeout plus grain; a clock that went back gets a
// context of its own, not one that ends too soon.
func TestSharedContextsEndWithinTheirBound(t *testing.T) {
	t.Parallel()
	s := NewShared(100 * time.Millisecond)
	start := time.Now()
	a, b := s.Context(start), s.Context(start.Add(500*time.Microsecond))
	if a != b {
		t.Error("calls within one grain got two contexts")
	}
	late := s.Context(start.Add(2 * time.Millisecond))
	if late == a {
		t.Error("a call after the grain got the grain's context")
	}
	if back := s.Context(start.Add(-time.Second)); back == late {
		t.Error("a call from before the grain got its context")
	}
	for name, c := range map[string]struct {
		at   time.Time
		ctxt interface {
			Deadline() (time.Time, bool)
		}
	}{"first": {start, a}, "shared": {start.Add(500 * time.Microsecond), b}, "next": {start.Add(2 * time.Millisecond), late}} {
		d, ok := c.ctxt.Deadline()
		if left := d.Sub(c.at); !ok || left < s.timeout || left > s.timeout+s.grain {
			t.Errorf("%s: deadline %v after the call, want %v to %v", name, left, s.timeout, s.timeout+s.grain)
		}
	}
	select {
	case <-a.Done():
		t.Fatal("ended before its timeout")
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case <-a.Done():
	case <-time.After(time.Second):
		t.Fatal("not ended a second after its deadline")
	}
}

// TestSharedUnderConcurrency: many goroutines asking at once each get a
// context whose deadline is within the bound of their own call.
func TestSharedUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := NewShared(time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20_000 {
				now := time.Now()
				d, _ := s.Context(now).Deadline()
				if left := d.Sub(now); left < s.timeout || left > s.timeout+s.grain {
					t.Errorf("deadline %v after the call, want %v to %v", left, s.timeout, s.timeout+s.grain)
					return
				}
			}
		}()
	}
	wg.Wait()
}
