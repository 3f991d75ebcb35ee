package notifier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestAClaimLivesWhileItsOwnerWorks: a claim its owner keeps renewing is
// never taken over, however long the delivery runs past the lease; once the
// owner stops (it crashed), another notifier takes it over after one lease.
func TestAClaimLivesWhileItsOwnerWorks(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	c := claims{pool: pool, lease: 600 * time.Millisecond}
	ctx := context.Background()
	const order, kind = "0b0a3c7e-9d55-4cf0-8a0e-3a8f2d6c1e11", "booking.confirmed"
	if st, _, err := c.claim(ctx, order, kind, "fan@example.com", "<m@x>"); err != nil || st != claimTaken {
		t.Fatalf("first claim: %v %v", st, err)
	}
	stop := c.keep(ctx, order, kind)
	time.Sleep(3 * c.lease) // a delivery three leases long
	if st, _, err := c.claim(ctx, order, kind, "fan@example.com", "<m@x>"); err != nil || st != claimBusy {
		t.Errorf("a second notifier while the owner works: %v %v, want busy", st, err)
	}
	stop()
	testenv.Eventually(t, 5*time.Second, func() error {
		st, _, err := c.claim(ctx, order, kind, "fan@example.com", "<m@x>")
		if err != nil || st != claimTaken {
			return fmt.Errorf("after the owner stopped: %v %v, want taken over", st, err)
		}
		return nil
	})
}
