package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
)

// brokerCommand runs the embedded Kafka-protocol broker until interrupted.
func brokerCommand(fs *flag.FlagSet) mainFunc {
	addr := fs.String("addr", "127.0.0.1:9092", "Kafka listen address (port 0 picks a free one)")
	persist := fs.Bool("persist", true, "keep the log, offsets and topics under <data-dir>/kafka")
	return func(ctx context.Context, e env, cfg config.Config) error {
		d := newDeps(e, cfg)
		dir := ""
		if *persist {
			dir = filepath.Join(cfg.DataDir, "kafka")
		}
		b, err := kafka.StartEmbedded(*addr, dir)
		if err != nil {
			return err
		}
		defer b.Close()
		client, err := kafka.NewClient(b.Addrs())
		if err != nil {
			return err
		}
		err = kafka.EnsureTopics(ctx, client, kafka.DefaultTopics)
		client.Close()
		if err != nil {
			return err
		}
		d.log.Info().Strs("addrs", b.Addrs()).Str("data_dir", dir).Msg("embedded Kafka broker running")
		fmt.Fprintf(e.stdout, "broker listening on %v\n", b.Addrs())
		<-ctx.Done()
		return nil
	}
}

// runMigrate applies the migrations and reports them.
func runMigrate(ctx context.Context, e env, cfg config.Config) error {
	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true}); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "database is up to date")
	return nil
}

var slugPattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// seedCommand seeds the demo venues, or a grid venue of --seats seats.
func seedCommand(fs *flag.FlagSet) mainFunc {
	seats := fs.Int("seats", 0, "instead of the demo venues, create a venue of exactly this many seats, and an event on it")
	slug := fs.String("slug", "", "slug of the --seats venue and event (default grid-N)")
	opensIn := fs.Duration("sale-opens-in", 0, "when the --seats event's sale opens, from now")
	return func(ctx context.Context, e env, cfg config.Config) error {
		if *seats < 0 || *seats > 1_000_000 {
			return fmt.Errorf("--seats: expected 1 to 1000000, got %d", *seats)
		}
		if *slug == "" {
			*slug = fmt.Sprintf("grid-%d", *seats)
		}
		if !slugPattern.MatchString(*slug) {
			return fmt.Errorf("--slug: expected lowercase letters, digits and '-', got %q", *slug)
		}
		d := newDeps(e, cfg)
		defer d.close()
		if err := d.open(ctx, needs{postgres: true}); err != nil {
			return err
		}
		store := catalog.NewStore(d.pool)
		if *seats > 0 {
			r, err := store.SeedGrid(ctx, *slug, *seats, time.Now().Add(*opensIn))
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, r)
			return nil
		}
		results, err := store.SeedDemo(ctx, time.Now())
		for _, r := range results {
			fmt.Fprintln(e.stdout, r)
		}
		return err
	}
}
