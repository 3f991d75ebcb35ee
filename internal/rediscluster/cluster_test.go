package rediscluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/rediscluster"
)

// TestReplicaTakesOverAKilledMaster starts 3 masters with a replica each,
// kills the master of a key and checks its replica is promoted and serves
// the key's slot, then that the old master rejoins as a replica.
func TestReplicaTakesOverAKilledMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := rediscluster.Start(ctx, rediscluster.Options{Dir: t.TempDir(), Masters: 3, Replicas: 1, NodeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if len(c.Nodes) != 6 || !strings.HasPrefix(c.URL(), "redis://"+c.Nodes[0].Addr+"?addr=") {
		t.Fatalf("got %d nodes and URL %s, want 6 reached from the first", len(c.Nodes), c.URL())
	}
	master, err := c.NodeFor(ctx, "{42}x")
	if err != nil {
		t.Fatal(err)
	}
	replicas := c.Replicas(ctx, master)
	if len(replicas) != 1 {
		t.Fatalf("master %s has %d replicas, want 1", master.Addr, len(replicas))
	}
	master.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		now, err := c.NodeFor(ctx, "{42}x")
		if err == nil && now == replicas[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot of {42}x served by %v (%v) 20 s after its master died, want its replica %s", now, err, replicas[0].Addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := master.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitOK(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	role, of, err := master.Role(ctx)
	for i := 0; i < 100 && (err != nil || role != "slave"); i++ {
		time.Sleep(100 * time.Millisecond)
		role, of, err = master.Role(ctx)
	}
	if role != "slave" || of != replicas[0].Addr {
		t.Errorf("the old master came back as %s of %q (%v), want the replica of %s", role, of, err, replicas[0].Addr)
	}
}
