package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/logging"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
)

// deps are the stores a process opened, closed in reverse order.
type deps struct {
	cfg    config.Config
	log    zerolog.Logger
	pool   *pgxpool.Pool
	redis  rueidis.Client
	kafka  *kgo.Client
	broker *kafka.Embedded
	closes []func()
}

// needs says which stores a process opens.
type needs struct {
	postgres, redis, kafka bool
	// embeddedBroker starts the in-process broker when KAFKA_BROKERS is empty.
	embeddedBroker bool
}

func newDeps(e env, cfg config.Config) *deps {
	return &deps{cfg: cfg, log: logging.New(e.stderr, cfg.LogLevel, cfg.LogFormat)}
}

// open connects to what n asks for: Postgres (created and migrated), Redis,
// and Kafka with its topics.
func (d *deps) open(ctx context.Context, n needs) error {
	if n.postgres {
		pool, err := database.OpenWith(ctx, d.cfg.DatabaseURL, database.Options{AcquireTimeout: d.cfg.DBAcquireTimeout})
		if err != nil {
			return fmt.Errorf("DATABASE_URL: %w", err)
		}
		d.closes = append(d.closes, pool.Close)
		d.pool = pool
		applied, err := database.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			d.log.Info().Strs("applied", applied).Msg("database migrated")
		}
	}
	if n.redis {
		client, err := redisconn.Open(d.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		d.closes = append(d.closes, client.Close)
		d.redis = client
	}
	if n.kafka {
		brokers := d.cfg.KafkaBrokers
		if len(brokers) == 0 && n.embeddedBroker {
			b, err := kafka.StartEmbedded(d.cfg.BrokerAddr, filepath.Join(d.cfg.DataDir, "kafka"))
			if err != nil {
				return err
			}
			d.closes = append(d.closes, b.Close)
			d.broker = b
			brokers = b.Addrs()
			d.log.Info().Strs("addrs", brokers).Msg("embedded Kafka broker started")
		}
		if len(brokers) == 0 {
			return fmt.Errorf("KAFKA_BROKERS: expected host:port of a broker (only 'ticketvelo all' starts an embedded one)")
		}
		client, err := kafka.NewClient(brokers)
		if err != nil {
			return err
		}
		d.closes = append(d.closes, client.Close)
		d.kafka = client
		if err := kafka.EnsureTopics(ctx, client, kafka.DefaultTopics); err != nil {
			return err
		}
	}
	return nil
}

func (d *deps) close() {
	for _, c := range slices.Backward(d.closes) {
		c()
	}
}

// server is an HTTP server whose readiness checks the opened stores.
func (d *deps) server() *httpapi.Server {
	srv := httpapi.NewServer(httpapi.Options{
		MaxBodyBytes: d.cfg.MaxBodyBytes, ShutdownDelay: d.cfg.ShutdownDelay,
		ShutdownTimeout: d.cfg.ShutdownTimeout, TrustedProxies: d.cfg.TrustedProxies,
	}, d.log)
	if d.pool != nil {
		srv.AddCheck("postgres", func(ctx context.Context) error { return d.pool.Ping(ctx) })
	}
	if d.redis != nil {
		srv.AddCheck("redis", func(ctx context.Context) error { return redisconn.Ping(ctx, d.redis) })
	}
	if d.kafka != nil {
		srv.AddCheck("kafka", func(ctx context.Context) error { return kafka.Ping(ctx, d.kafka) })
	}
	return srv
}

// serve runs the server and the background loops until ctx ends or one of
// them fails, which stops the others.
func (d *deps) serve(ctx context.Context, srv *httpapi.Server, loops ...func(context.Context) error) error {
	ln, err := net.Listen("tcp", d.cfg.Addr)
	if err != nil {
		return fmt.Errorf("TICKETVELO_ADDR: cannot listen on %s: %w", d.cfg.Addr, err)
	}
	d.log.Info().Str("addr", ln.Addr().String()).Msg("listening")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	for _, loop := range loops {
		g.Go(func() error { return loop(gctx) })
	}
	if d.cfg.PprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, d.cfg.PprofAddr, d.log) })
	}
	return g.Wait()
}
