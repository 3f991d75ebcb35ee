package main

// What the benchmark commands (loadgen, edgebench) share: a scratch world
// removed after the run, a private redis-server, fans' access tokens signed
// in bulk, an ops account to pause admission, and Redis's own figures.

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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// scratch is a benchmark's world of its own, removed by close: a database
// <name>_<kind>_<hex> (created when first opened), a Redis key prefix, a
// temporary directory holding the signing keys, and, when asked for, a
// redis-server of its own on a free loopback port, so that Redis's CPU and
// memory figures count this run only.
type scratch struct {
	cfg  config.Config // pointed at all of the above
	dir  string
	undo []func()
}

func openScratch(ctx context.Context, cfg config.Config, kind string, privateRedis bool) (*scratch, error) {
	suffix := randomHex(4)
	dbURL, dbName, err := database.WithName(cfg.DatabaseURL, func(name string) string { return name + "_" + kind + "_" + suffix })
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ticketvelo-"+kind)
	if err != nil {
		return nil, err
	}
	s := &scratch{cfg: cfg, dir: dir}
	s.undo = append(s.undo, func() { os.RemoveAll(dir) }, func() { _ = database.Drop(dbURL, dbName) })
	s.cfg.DatabaseURL = dbURL
	s.cfg.RedisPrefix += kind + "-" + suffix + ":"
	s.cfg.KeyFile = filepath.Join(dir, "keys.pem")
	if privateRedis {
		url, stop, err := startRedis(ctx, dir)
		if err != nil {
			s.close()
			return nil, err
		}
		s.undo = append(s.undo, stop)
		s.cfg.RedisURL = url
	}
	return s, nil
}

// close stops the private Redis, drops the database and removes the
// directory.
func (s *scratch) close() {
	for _, f := range slices.Backward(s.undo) {
		f()
	}
}

// startRedis runs a redis-server of the run's own on a free loopback port,
// without persistence, and returns its URL.
func startRedis(ctx context.Context, dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server is not on PATH; install it (apt-get install redis-server)")
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting redis-server: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			conn.Close()
			return "redis://127.0.0.1:" + port + "/0", stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("redis-server did not listen on port %s: %w", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort is a loopback port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// signTokens makes one "Bearer <token>" header value per fan, fans
// first..first+n-1, each valid for two hours.
func signTokens(ring *tokens.Ring, first int64, n int) ([][]byte, error) {
	out := make([][]byte, n)
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				tok, _, err := ring.IssueAccess(first+int64(i), tokens.RoleFan, 2*time.Hour, time.Now())
				if err != nil {
					return err
				}
				out[i] = []byte("Bearer " + tok)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// benchOps makes an ops account in the scratch database and signs its
// token: ops routes ask the database for the role, not only the token.
func benchOps(ctx context.Context, pool *pgxpool.Pool, ring *tokens.Ring) (string, error) {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return "", err
	}
	users, err := identity.NewStore(pool, identity.DefaultParams, identity.HashLimits{})
	if err != nil {
		return "", err
	}
	u, err := users.Create(ctx, identity.Registration{Email: "bench-ops@ticketvelo.local", Password: hex.EncodeToString(pw), Name: "bench"}, tokens.RoleOps)
	if err != nil {
		return "", fmt.Errorf("making the benchmark's ops account: %w", err)
	}
	tok, _, err := ring.IssueAccess(u.ID, tokens.RoleOps, time.Hour, time.Now())
	return tok, err
}

// putPaused pauses the event's admission on the gateway at addr, so that
// every fan who joins stays waiting.
func putPaused(addr string, eventID int64, opsToken string) error {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(fasthttp.MethodPut)
	req.SetRequestURI("http://" + addr + "/api/v1/admin/events/" + strconv.FormatInt(eventID, 10) + "/admission")
	req.Header.SetContentType("application/json")
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.SetBodyString(`{"rate_per_second":50,"max_active":500,"paused":true,"auto":false}`)
	if err := fasthttp.Do(req, res); err != nil {
		return fmt.Errorf("pausing admission: %w", err)
	}
	if res.StatusCode() != 200 {
		return fmt.Errorf("pausing admission: %d %s", res.StatusCode(), res.Body())
	}
	return nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// redisInfo reads the numeric fields of one INFO section.
func redisInfo(ctx context.Context, client rueidis.Client, section string) (map[string]float64, error) {
	info, err := client.Do(ctx, client.B().Info().Section(section).Build()).ToString()
	if err != nil {
		return nil, fmt.Errorf("reading Redis INFO %s: %w", section, err)
	}
	fields := map[string]float64{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
			fields[k] = f
		}
	}
	return fields, nil
}

// redisCPUTime is the Redis server's user and system CPU time so far.
func redisCPUTime(ctx context.Context, client rueidis.Client) (time.Duration, error) {
	cpu, err := redisInfo(ctx, client, "cpu")
	if err != nil {
		return 0, err
	}
	return time.Duration((cpu["used_cpu_sys"] + cpu["used_cpu_user"]) * float64(time.Second)), nil
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
