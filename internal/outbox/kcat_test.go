package outbox_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// kcat is a third-party Kafka client (librdkafka): when it reads the
// embedded broker's metadata and the relay's records, the broker speaks
// Kafka and not merely what franz-go expects. .ci/run installs it; a
// developer without it skips (apt-get install kcat).
func kcat(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is required under CI (apt-get install kcat)")
		}
		t.Skip("kcat not installed (apt-get install kcat); skipping the third-party client check")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestKcatReadsTheRelayedEvents(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	brokers := testenv.Kafka(t)
	createTopics(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ids := map[int64]string{}
	for _, order := range []string{"order-a", "order-b", "order-a"} {
		typ := bookingevent.Confirmed
		if len(ids) == 2 {
			typ = bookingevent.Canceled
		}
		ids[insertEvent(t, ctx, pool, order, typ)] = order + " " + typ
	}
	runRelay(t, ctx, outbox.NewRelay(pool, brokers, outbox.Options{PollInterval: 10 * time.Millisecond}, quietLog()))
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := unpublished(t, ctx, pool); n > 0 {
			return fmt.Errorf("%d rows unpublished", n)
		}
		return nil
	})

	meta := kcat(t, "-b", brokers[0], "-L")
	for _, topic := range kafka.DefaultTopics {
		want := fmt.Sprintf(`topic "%s" with %d partitions`, topic.Name, topic.Partitions)
		if !strings.Contains(meta, want) {
			t.Errorf("kcat -L lacks %q:\n%s", want, meta)
		}
	}

	out := kcat(t, "-b", brokers[0], "-C", "-t", kafka.BookingEvents, "-o", "beginning", "-e", "-q", "-f", "%k|%h|%s\n")
	header := regexp.MustCompile(`type=([a-z.]+),outbox-id=(\d+)`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(ids) {
		t.Fatalf("kcat consumed %d records, want %d:\n%s", len(lines), len(ids), out)
	}
	for _, line := range lines {
		key, rest, _ := strings.Cut(line, "|")
		headers, value, _ := strings.Cut(rest, "|")
		m := header.FindStringSubmatch(headers)
		if m == nil {
			t.Errorf("record %q lacks the type and outbox-id headers", line)
			continue
		}
		var id int64
		fmt.Sscan(m[2], &id)
		if ids[id] != key+" "+m[1] {
			t.Errorf("record of row %d is %s %s, want %s", id, key, m[1], ids[id])
		}
		if ev, err := bookingevent.Decode([]byte(value)); err != nil || ev.OrderID != key {
			t.Errorf("record of row %d does not decode as a booking event of %s: %v", id, key, err)
		}
	}
}
