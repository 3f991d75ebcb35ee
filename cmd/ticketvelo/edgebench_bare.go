package main

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/tools/loadgen"
)

// runBare serves edgebench's baseline, loadgen.BareServer, on
// TICKETVELO_ADDR in a process of its own, so that its CPU is counted the
// way the gateway's is.
func runBare(ctx context.Context, e env, cfg config.Config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("TICKETVELO_ADDR: cannot listen on %s: %w", cfg.Addr, err)
	}
	srv := loadgen.BareServer()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ln) })
	g.Go(func() error {
		<-gctx.Done()
		return srv.Shutdown()
	})
	if cfg.PprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, cfg.PprofAddr, newDeps(e, cfg).log) })
	}
	return g.Wait()
}
