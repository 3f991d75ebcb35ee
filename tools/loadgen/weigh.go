package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/tools/scratch"
)

// weighQueue queues n fans for an event and reports what they take in
// Redis: the sum of MEMORY USAGE of the event's keys, and the growth of
// used_memory (which other clients of a shared Redis also move).
func weighQueue(ctx context.Context, w io.Writer, world *scratch.World, cfg admission.Config, eventID int64, n int) error {
	client := world.Redis
	room := admission.NewRoom(cfg, admission.Deps{Client: client, Prefix: world.RedisPrefix, Ring: world.Ring})
	before, err := usedMemory(ctx, world)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nqueueing %d fans for event %d...\n", n, eventID)
	start := time.Now()
	if err := queueFans(ctx, room, eventID, n); err != nil {
		return err
	}
	took := time.Since(start)
	after, err := usedMemory(ctx, world)
	if err != nil {
		return err
	}
	o, err := room.Overview(ctx, eventID, time.Now())
	if err != nil {
		return err
	}
	if o.QueueLength != int64(n) {
		return fmt.Errorf("queued %d fans, the queue holds %d", n, o.QueueLength)
	}
	base := world.RedisPrefix + "wr:{" + strconv.FormatInt(eventID, 10) + "}:"
	var total, queue, seen int64
	for _, k := range []struct {
		sum     *int64
		pattern string
	}{{&total, base + "*"}, {&queue, base + "queue"}, {&seen, base + "seen:*"}} {
		if *k.sum, err = sumMemory(ctx, client, k.pattern); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "queued %d fans in %s (%.0f joins/s through the join script)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(w, "MEMORY USAGE of the event's keys: %d bytes, %.1f bytes per queued fan (queue %.1f, last-poll buckets %.1f)\n",
		total, float64(total)/float64(n), float64(queue)/float64(n), float64(seen)/float64(n))
	fmt.Fprintf(w, "INFO used_memory grew by %d bytes: %.1f bytes per queued fan\n", after-before, float64(after-before)/float64(n))
	return nil
}

// queueFans joins fans 1..n to the event's queue, its sale open since a
// minute ago.
func queueFans(ctx context.Context, room *admission.Room, eventID int64, n int) error {
	opens := time.Now().Add(-time.Minute)
	var eg errgroup.Group
	eg.SetLimit(256)
	for u := 1; u <= n; u++ {
		eg.Go(func() error {
			_, _, err := room.Join(ctx, eventID, int64(u), opens, time.Now(), admission.JoinLimits{})
			return err
		})
	}
	return eg.Wait()
}

// sumMemory adds up MEMORY USAGE of the keys matching pattern.
func sumMemory(ctx context.Context, client rueidis.Client, pattern string) (int64, error) {
	var total int64
	var cursor uint64
	for {
		page, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return 0, err
		}
		for _, k := range page.Elements {
			size, err := client.Do(ctx, client.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
			if err != nil {
				return 0, err
			}
			total += size
		}
		if cursor = page.Cursor; cursor == 0 {
			return total, nil
		}
	}
}

func usedMemory(ctx context.Context, world *scratch.World) (int64, error) {
	mem, err := world.RedisInfo(ctx, "memory")
	if err != nil {
		return 0, err
	}
	used, ok := mem["used_memory"]
	if !ok {
		return 0, errors.New("INFO memory has no used_memory")
	}
	return int64(used), nil
}
