package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

// TestHasherWaitsForASlotAtMostItsWait: with every slot taken, a hash is
// refused with ErrBusy (503, Retry-After) once the wait passes, and runs
// once a slot frees; without a wait it waits for its context.
func TestHasherWaitsForASlotAtMostItsWait(t *testing.T) {
	cheap := Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h := NewHasher(cheap, HashLimits{Concurrency: 1, Wait: 20 * time.Millisecond})
	h.slots <- struct{}{} // a hash under way
	start := time.Now()
	_, err := h.Hash(context.Background(), "a long passphrase")
	if e := apperr.As(err); !errors.Is(err, ErrBusy) || e.Kind != apperr.Unavailable || e.RetryAfter != 1 {
		t.Fatalf("hash with no free slot: %v (retry after %d), want ErrBusy retrying after 1 s", err, e.RetryAfter)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("refused after %s, before the 20ms wait", waited)
	}
	h.release()
	if _, err := h.Hash(context.Background(), "a long passphrase"); err != nil {
		t.Fatalf("hash with a free slot: %v", err)
	}

	unbounded := NewHasher(cheap, HashLimits{Concurrency: 1})
	unbounded.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := unbounded.Hash(ctx, "a long passphrase"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash without a wait bound: %v, want its context's deadline", err)
	}
}
