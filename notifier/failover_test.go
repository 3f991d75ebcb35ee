package notifier

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestKilledNotifierIsTakenOverWithinSeconds: two notifiers share the
// group with the default session timeout and heartbeat; one is killed
// while orders flow (its connections to the broker drop and it never
// leaves the group, as with kill -9). The other takes its partitions over
// when the session times out, and mails every order exactly once, none
// later than 15 s after it was confirmed.
func TestKilledNotifierIsTakenOverWithinSeconds(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{tls: true, users: map[string]string{"killed": "pk", "survivor": "ps"}})
	f.startRelay(t)
	cfg := testConfig()          // the default session timeout and heartbeat are what is tested
	cfg.ClaimLease = time.Second // mails the killed one claimed and never sent
	proxy := testenv.StartProxy(t, f.brokers[0])
	viaProxy := kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, proxy.Addr())
	})
	killed := f.startWith(t, f.smtpMailer(t, "killed", "pk"), cfg, crash, viaProxy)
	f.start(t, f.smtpMailer(t, "survivor", "ps"), cfg, graceful)

	confirmed := map[string]time.Time{} // by recipient
	var mu sync.Mutex
	stop := make(chan struct{})
	produced := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				produced <- n
				return
			case <-time.After(50 * time.Millisecond):
			}
			to := fmt.Sprintf("fan%d@example.com", n)
			ev := sampleEvent(newOrderID(t), to)
			ev.OccurredAt = time.Now()
			mu.Lock()
			confirmed[to] = ev.OccurredAt
			mu.Unlock()
			f.insertOutbox(t, ev)
		}
	}()
	testenv.Eventually(t, time.Minute, func() error {
		by := map[string]int{}
		for _, m := range f.sink.received() {
			by[m.User]++
		}
		if by["killed"] == 0 || by["survivor"] == 0 {
			return fmt.Errorf("mails by notifier %v: both must hold partitions before the kill", by)
		}
		return nil
	})
	proxy.Cut()   // its sockets close, as the kernel closes a killed process's
	killed.stop() // and it stops with no clean shutdown and no LeaveGroup
	atKill := f.sink.count()
	time.Sleep(15 * time.Second)
	close(stop)
	total := <-produced
	f.waitForMails(t, total, time.Minute)
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := f.notificationStatus(t); st["sent"] != total {
			return fmt.Errorf("notifications %v, want %d sent", st, total)
		}
		return nil
	})

	byID := f.sink.byMessageID(t)
	if len(byID) != total {
		t.Errorf("%d distinct mails for %d orders", len(byID), total)
	}
	for id, c := range byID {
		if c != 1 {
			t.Errorf("%s mailed %d times, want once", id, c)
		}
	}
	var worst time.Duration
	var worstTo string
	for _, m := range f.sink.received() {
		if d := m.At.Sub(confirmed[m.To]); d > worst {
			worst, worstTo = d, m.To
		}
	}
	if worst > 15*time.Second {
		t.Errorf("the mail of %s came %s after its order, want under 15 s", worstTo, worst.Round(time.Millisecond))
	}
	t.Logf("%d orders; killed after %d mails; slowest order-to-mail %s (%s)", total, atKill, worst.Round(time.Millisecond), worstTo)
}
