package main

import (
	"context"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/booker"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// mountBooker mounts the booker with the settings cfg on srv and returns
// its background loops: the hold sweeper, the seat-map refresher and the
// health reporter.
func mountBooker(d *deps, srv *httpapi.Server, cfg booker.Config) ([]func(context.Context) error, error) {
	ring, err := tokens.LoadOrCreate(d.cfg.KeyPath())
	if err != nil {
		return nil, err
	}
	b, err := booker.New(cfg, booker.Deps{
		Pool: d.pool, Redis: d.redis, Prefix: d.cfg.RedisPrefix, Tokens: ring,
		Admissions:   admission.NewFeedback(d.redis, d.cfg.RedisPrefix),
		StoreTimeout: d.cfg.StoreTimeout,
		Log:          d.log.With().Str("module", "booker").Logger(), Now: time.Now,
	})
	if err != nil {
		return nil, err
	}
	b.Routes(srv.Router)
	return b.Loops(), nil
}
