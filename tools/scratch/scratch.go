// Package scratch is a benchmark's world of its own, removed when the run
// ends: a database <name>_<kind>_<hex> (created and migrated), a Redis key
// prefix, a temporary directory holding the signing keys and, when asked
// for, a redis-server of its own on a free loopback port, so that Redis's
// CPU and memory figures count this run only. What the benchmarks
// (loadgen, edgebench) do in it alike lives here too: signing fans' tokens
// in bulk, an ops account, Redis's own figures.
package scratch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/proc"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// Stores are a PostgreSQL and a Redis, and the prefix of every Redis key.
type Stores struct {
	DatabaseURL, RedisURL, RedisPrefix string
}

// World is one run's scratch world, open until Close.
type World struct {
	// Stores are the world's own: its database, its Redis (the private
	// one, or the installation's) and its prefix.
	Stores
	Dir     string // the temporary directory, removed by Close
	KeyFile string // the signing keys, in Dir
	Pool    *pgxpool.Pool
	Redis   rueidis.Client
	Ring    *tokens.Ring
	undo    []func()
}

// Open makes a world of kind (a word: "loadgen") beside the installation's
// stores, with a redis-server of its own when privateRedis, and connects to
// it.
func Open(ctx context.Context, installation Stores, kind string, privateRedis bool) (*World, error) {
	suffix := randomHex(4)
	dbURL, dbName, err := database.WithName(installation.DatabaseURL, func(name string) string { return name + "_" + kind + "_" + suffix })
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	dir, err := os.MkdirTemp("", "ticketvelo-"+kind)
	if err != nil {
		return nil, err
	}
	w := &World{Stores: installation, Dir: dir, KeyFile: filepath.Join(dir, "keys.pem")}
	w.undo = append(w.undo, func() { os.RemoveAll(dir) }, func() { _ = database.Drop(dbURL, dbName) })
	w.DatabaseURL = dbURL
	w.RedisPrefix += kind + "-" + suffix + ":"
	if privateRedis {
		if w.RedisURL, err = w.startRedis(ctx); err != nil {
			w.Close()
			return nil, err
		}
	}
	if err := w.connect(ctx, !privateRedis); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close disconnects, stops the private Redis (or removes the world's keys
// from the installation's), drops the database and removes the directory.
func (w *World) Close() {
	for _, f := range slices.Backward(w.undo) {
		f()
	}
}

// connect opens the database (creating and migrating it), Redis and the
// signing keys.
func (w *World) connect(ctx context.Context, sharedRedis bool) error {
	pool, err := database.Open(ctx, w.DatabaseURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	w.undo = append(w.undo, pool.Close)
	w.Pool = pool
	if _, err := database.Migrate(ctx, pool); err != nil {
		return err
	}
	client, err := redisconn.Open(w.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	w.undo = append(w.undo, client.Close)
	w.Redis = client
	if sharedRedis {
		w.undo = append(w.undo, func() { deleteKeys(client, w.RedisPrefix) })
	}
	w.Ring, err = tokens.LoadOrCreate(w.KeyFile)
	return err
}

// startRedis runs a redis-server of the world's own on a free loopback
// port, without persistence, and returns its URL.
func (w *World) startRedis(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server is not on PATH; install it (apt-get install redis-server)")
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	redis := &proc.Process{Name: "redis-server", Exe: bin, Args: []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", w.Dir},
		Addr: addr, Ready: proc.Listening(addr), LogPath: filepath.Join(w.Dir, "redis.log"), ReadyWithin: 10 * time.Second}
	if err := redis.Start(ctx); err != nil {
		return "", err
	}
	w.undo = append(w.undo, redis.Kill)
	return "redis://" + addr + "/0", nil
}

// deleteKeys removes every key under prefix.
func deleteKeys(client rueidis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var cursor uint64
	for {
		page, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(prefix+"*").Count(5000).Build()).AsScanEntry()
		if err != nil {
			return
		}
		if len(page.Elements) > 0 {
			client.Do(ctx, client.B().Unlink().Key(page.Elements...).Build())
		}
		if cursor = page.Cursor; cursor == 0 {
			return
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
