package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// mountGateway mounts the gateway with the settings g on srv and returns
// the admission controller's loop, which the caller runs beside the server.
func mountGateway(d *deps, srv *httpapi.Server, g gateway.Config) (func(context.Context) error, error) {
	cfg := d.cfg
	ring, err := tokens.LoadOrCreate(cfg.KeyPath())
	if err != nil {
		return nil, err
	}
	ring.RememberAccess(g.SeenTokensMB)
	users, err := identity.NewStore(d.pool, identity.DefaultParams, g.Hashing)
	if err != nil {
		return nil, err
	}
	// The gateway's own connection batches its writes under load: drop day
	// is a flood of small commands. One connection rather than rueidis's
	// default of one per two cores batches the most (fewer system calls in
	// the gateway and in Redis: poll throughput 53-54% of bare with two
	// connections, 54-60% with one, in A/B runs of ticketvelo loadgen).
	client, err := redisconn.Open(cfg.RedisURL, func(o *rueidis.ClientOption) {
		o.MaxFlushDelay = g.RedisFlushDelay
		o.PipelineMultiplex = -1
	})
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	d.closes = append(d.closes, client.Close)
	store := catalog.NewStore(d.pool)
	room := admission.NewRoom(g.Admission, admission.Deps{Client: client, Prefix: cfg.RedisPrefix, Ring: ring, CallTimeout: cfg.StoreTimeout})
	d.closes = append(d.closes, room.Close) // before the client's: it writes the last polls
	gw, err := gateway.New(g, gateway.Deps{
		Users: users, Catalog: store, Events: catalog.NewCache(store, time.Second, cfg.StoreTimeout, time.Now), Room: room, Ring: ring,
		Redis: client, Prefix: cfg.RedisPrefix, StoreTimeout: cfg.StoreTimeout, TrustedProxies: cfg.TrustedProxies, Now: time.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the gateway: %w", err)
	}
	gw.Routes(srv.Router)
	sales := func(ctx context.Context, now time.Time) ([]admission.Sale, error) {
		// A stalled Postgres must not stall every event's admission step.
		ctx, cancel := context.WithTimeout(ctx, cfg.StoreTimeout)
		defer cancel()
		list, err := store.Sales(ctx, now, time.Minute)
		out := make([]admission.Sale, len(list))
		for i, s := range list {
			out[i] = admission.Sale{EventID: s.EventID, OpensAt: s.SaleOpensAt, Seats: s.Capacity}
		}
		return out, err
	}
	ctl := admission.NewController(room, sales, time.Now, d.log.With().Str("component", "admission").Logger())
	return ctl.Run, nil
}
