package main

import (
	"context"
	"time"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

// runAll runs every module in one process on one listener.
func runAll(ctx context.Context, e env, cfg config.Config, s stack) error {
	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true, redis: true, kafka: true, embeddedBroker: true}); err != nil {
		return err
	}
	if cfg.Seed {
		results, err := catalog.NewStore(d.pool).SeedDemo(ctx, time.Now())
		if err != nil {
			return err
		}
		for _, r := range results {
			d.log.Info().Str("venue", r.Venue).Int64("event_id", r.EventID).Int("seats", r.Seats).
				Bool("created", r.EventCreated).Time("sale_opens_at", r.SaleOpensAt).Msg(r.String())
		}
	}
	srv := d.server()
	admit, err := mountGateway(d, srv, s.gateway)
	if err != nil {
		return err
	}
	bookerLoops, err := mountBooker(d, srv, s.booker)
	if err != nil {
		return err
	}
	notify, err := notifierLoop(d, s.notifier)
	if err != nil {
		return err
	}
	return d.serve(ctx, srv, append(bookerLoops, admit, relayLoop(d, s.booker), notify)...)
}

// runGateway runs the public edge alone.
func runGateway(ctx context.Context, e env, cfg config.Config, s stack) error {
	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true, redis: true}); err != nil {
		return err
	}
	srv := d.server()
	admit, err := mountGateway(d, srv, s.gateway)
	if err != nil {
		return err
	}
	return d.serve(ctx, srv, admit)
}

// runBooker runs the booker alone.
func runBooker(ctx context.Context, e env, cfg config.Config, s stack) error {
	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true, redis: true, kafka: true}); err != nil {
		return err
	}
	srv := d.server()
	loops, err := mountBooker(d, srv, s.booker)
	if err != nil {
		return err
	}
	return d.serve(ctx, srv, append(loops, relayLoop(d, s.booker))...)
}

// runNotifier runs the notifier alone; its listener serves health and metrics.
func runNotifier(ctx context.Context, e env, cfg config.Config, s stack) error {
	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true, kafka: true}); err != nil {
		return err
	}
	notify, err := notifierLoop(d, s.notifier)
	if err != nil {
		return err
	}
	return d.serve(ctx, d.server(), notify)
}
