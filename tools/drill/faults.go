package drill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// fault is one thing that goes wrong mid-drop.
type fault struct {
	name  string // for -faults
	title string
	// inject does it, and returns what happened worth saying (how long a
	// failover took); what it leaves down, the drill brings back after the
	// drop.
	inject func(ctx context.Context, t *topology, eventID int64) (string, error)
	// ownPostgres: it restarts PostgreSQL, so it needs the drill's own.
	ownPostgres bool
}

// faults are the drill's, in the order it runs them.
var faults = []fault{
	{name: "none", title: "no fault", inject: func(context.Context, *topology, int64) (string, error) { return "", nil }},
	{name: "booker", title: "kill -9 a booker, restart it 5 s later", inject: killBooker},
	{name: "gateway", title: "kill -9 a gateway", inject: func(_ context.Context, t *topology, _ int64) (string, error) {
		t.gateways[0].Kill()
		return "", nil
	}},
	{name: "notifier", title: "kill -9 a notifier", inject: func(_ context.Context, t *topology, _ int64) (string, error) {
		t.notifiers[0].Kill()
		return "", nil
	}},
	{name: "notifier-broker", title: "kill -9 a notifier, then the broker for 10 s", inject: killNotifierAndBroker},
	{name: "postgres", title: "PostgreSQL restart (pg_ctl restart -m fast)", inject: restartPostgres, ownPostgres: true},
	{name: "redis-failover", title: "the event's Redis master killed, its replica promoted", inject: redisFailover},
	{name: "redis-lost", title: "the event's Redis master and its replica down 10 s (no persistence)", inject: redisMasterAndReplica},
	{name: "rolling", title: "SIGTERM rolling restart of every service", inject: rollingRestart},
}

// CIFaults are the faults of the CI-sized drill: the fast ones whose
// fixes are in.
var CIFaults = []string{"none", "booker", "gateway", "notifier", "postgres", "redis-failover", "rolling"}

// FaultNames lists every fault, for -faults.
func FaultNames() []string {
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = f.name
	}
	return names
}

func findFaults(names []string) ([]fault, error) {
	var out []fault
	for _, n := range names {
		i := -1
		for j, f := range faults {
			if f.name == n {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("-faults: unknown fault %q; expected some of %s", n, strings.Join(FaultNames(), ","))
		}
		out = append(out, faults[i])
	}
	return out, nil
}

func killBooker(ctx context.Context, t *topology, _ int64) (string, error) {
	t.bookers[0].Kill()
	if !loop.Sleep(ctx, 5*time.Second) {
		return "", ctx.Err()
	}
	return "", t.bookers[0].Start(ctx)
}

func killNotifierAndBroker(ctx context.Context, t *topology, _ int64) (string, error) {
	t.notifiers[0].Kill()
	t.broker.Kill()
	if !loop.Sleep(ctx, 10*time.Second) {
		return "", ctx.Err()
	}
	return "", t.broker.Start(ctx)
}

func restartPostgres(ctx context.Context, t *topology, _ int64) (string, error) {
	start := time.Now()
	if err := t.pg.restart(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("PostgreSQL back after %s", time.Since(start).Round(100*time.Millisecond)), nil
}

// eventKey is a key of the event's waiting room: its Redis node is the one
// the event's traffic needs.
func eventKey(eventID int64) string { return salekeys.Room(prefix, eventID) + "meta" }

func redisFailover(ctx context.Context, t *topology, eventID int64) (string, error) {
	master, err := t.redis.NodeFor(ctx, eventKey(eventID))
	if err != nil {
		return "", err
	}
	start := time.Now()
	master.Kill()
	for time.Since(start) < time.Minute {
		if now, err := t.redis.NodeFor(ctx, eventKey(eventID)); err == nil && now != master {
			return fmt.Sprintf("replica %s promoted %s after its master died", now.Addr, time.Since(start).Round(100*time.Millisecond)), nil
		}
		if !loop.Sleep(ctx, 100*time.Millisecond) {
			return "", ctx.Err()
		}
	}
	return "", errors.New("no replica promoted within a minute")
}

// redisMasterAndReplica takes the event's slot down with its only copy for
// 10 s; without persistence the nodes come back empty. The cluster refuses
// every command while a slot has no node (cluster-require-full-coverage).
func redisMasterAndReplica(ctx context.Context, t *topology, eventID int64) (string, error) {
	master, err := t.redis.NodeFor(ctx, eventKey(eventID))
	if err != nil {
		return "", err
	}
	replicas := t.redis.Replicas(ctx, master)
	master.Kill()
	for _, r := range replicas {
		r.Kill()
	}
	if !loop.Sleep(ctx, 10*time.Second) {
		return "", ctx.Err()
	}
	if err := master.Restart(ctx); err != nil {
		return "", err
	}
	for _, r := range replicas {
		if err := r.Restart(ctx); err != nil {
			return "", err
		}
	}
	start := time.Now()
	if err := t.redis.WaitOK(ctx, time.Minute); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d nodes down 10 s, the cluster whole again %s after they restarted", 1+len(replicas), time.Since(start).Round(100*time.Millisecond)), nil
}

// proxyFailTimeout is deploy/nginx.conf's fail_timeout: how long nginx
// skips a copy that refused a connection, even once it is back.
const proxyFailTimeout = 2 * time.Second

// rollingRestart stops each service as an operator would (SIGTERM) and
// starts it again once it has; before the next, it waits until the copy is
// ready and the proxy has stopped skipping it, so one copy of each service
// is always in use.
func rollingRestart(ctx context.Context, t *topology, _ int64) (string, error) {
	start := time.Now()
	for _, p := range t.services() {
		p.Term(termGrace)
		if err := p.Start(ctx); err != nil {
			return "", err
		}
		if !loop.Sleep(ctx, proxyFailTimeout+500*time.Millisecond) {
			return "", ctx.Err()
		}
	}
	return fmt.Sprintf("%d services restarted one after the other in %s", len(t.services()), time.Since(start).Round(100*time.Millisecond)), nil
}
