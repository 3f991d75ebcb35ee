package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/deploy"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/proc"
	"github.com/ticketvelo/ticketvelo/internal/rediscluster"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// prefix is the Redis key prefix of the drill's services.
const prefix = "tv:"

// topology is the split deployment the drill runs: a Redis Cluster of three
// masters with a replica each, PostgreSQL, the broker, two gateways, two
// bookers and two notifiers, each a process of its own, behind nginx with
// deploy/nginx.conf.
type topology struct {
	dir       string
	pg        *postgres
	redis     *rediscluster.Cluster
	broker    *proc.Process
	gateways  []*proc.Process
	bookers   []*proc.Process
	notifiers []*proc.Process
	proxy     *proc.Process
	target    string // the proxy's base URL

	pool *pgxpool.Pool
	rdb  rueidis.Client
	ring *tokens.Ring
	undo []func()
}

// startTopology starts every part, in the order they need each other.
func startTopology(ctx context.Context, o Options) (t *topology, err error) {
	t = &topology{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.dir, err = os.MkdirTemp("", "ticketvelo-drill-"); err != nil {
		return nil, err
	}
	// The server's unprivileged user (PostgreSQL, nginx's workers) must
	// reach the files under it.
	if err := os.Chmod(t.dir, 0o755); err != nil {
		return nil, err
	}
	if !o.Keep {
		t.undo = append(t.undo, func() { os.RemoveAll(t.dir) })
	}
	if err := t.startStores(ctx, o); err != nil {
		return nil, err
	}
	if err := t.startServices(ctx, o); err != nil {
		return nil, err
	}
	return t, t.startProxy(ctx)
}

func (t *topology) startStores(ctx context.Context, o Options) error {
	pg, err := openPostgres(ctx, t.dir, o.SharedDatabaseURL)
	if err != nil {
		return err
	}
	t.pg = pg
	t.undo = append(t.undo, pg.close)
	t.redis, err = rediscluster.Start(ctx, rediscluster.Options{
		Dir: filepath.Join(t.dir, "redis"), Masters: 3, Replicas: 1, NodeTimeout: o.RedisNodeTimeout,
	})
	if err != nil {
		return err
	}
	t.undo = append(t.undo, t.redis.Close)
	if t.ring, err = tokens.LoadOrCreate(filepath.Join(t.dir, "keys.pem")); err != nil {
		return err
	}
	t.broker, err = t.newProcess("broker", "broker", o.Exe, nil)
	if err != nil {
		return err
	}
	t.broker.Args = append(t.broker.Args, "--addr", t.broker.Addr)
	t.broker.Ready = proc.Listening(t.broker.Addr)
	return t.broker.Start(ctx)
}

// newProcess is a process of the binary in the topology's directory.
func (t *topology) newProcess(name, command, exe string, env []string) (*proc.Process, error) {
	p, err := newService(exe, t.dir, name, command, env)
	if err != nil {
		return nil, err
	}
	t.undo = append(t.undo, p.Kill)
	return p, nil
}

// serviceEnv is what every service is told: the stores, the shared key
// file, and that the proxy on loopback forwards the fans' addresses.
func (t *topology) serviceEnv() []string {
	return []string{
		"DATABASE_URL=" + t.pg.url + "&pool_max_conns=8",
		"REDIS_URL=" + t.redis.URL(),
		"TICKETVELO_REDIS_PREFIX=" + prefix,
		"KAFKA_BROKERS=" + t.broker.Addr,
		"TICKETVELO_KEY_FILE=" + filepath.Join(t.dir, "keys.pem"),
		"TICKETVELO_TRUSTED_PROXIES=127.0.0.1/32",
		"TICKETVELO_LOG_LEVEL=warn",
		"TICKETVELO_LOG_FORMAT=json",
		"TICKETVELO_PPROF_ADDR=",
	}
}

// startServices starts the first gateway alone (it creates and migrates
// the database), then the other five at once.
func (t *topology) startServices(ctx context.Context, o Options) error {
	env := t.serviceEnv()
	for i := 1; i <= 2; i++ {
		for _, s := range []struct {
			role string
			list *[]*proc.Process
		}{{"gateway", &t.gateways}, {"booker", &t.bookers}, {"notifier", &t.notifiers}} {
			p, err := t.newProcess(fmt.Sprintf("%s-%d", s.role, i), s.role, o.Exe, env)
			if err != nil {
				return err
			}
			*s.list = append(*s.list, p)
		}
	}
	if err := t.gateways[0].Start(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range t.services()[1:] {
		g.Go(func() error { return p.Start(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	pool, err := database.Open(ctx, t.pg.url)
	if err != nil {
		return err
	}
	t.pool = pool
	t.undo = append(t.undo, pool.Close)
	if t.rdb, err = redisconn.Open(t.redis.URL()); err != nil {
		return err
	}
	t.undo = append(t.undo, t.rdb.Close)
	return nil
}

// services are the six service processes, gateways first.
func (t *topology) services() []*proc.Process {
	return slices.Concat(t.gateways, t.bookers, t.notifiers)
}

// startProxy runs nginx with deploy/nginx.conf pointed at the services.
// Its access log is off: a drop's hundreds of thousands of lines would
// only cost disk and CPU.
func (t *topology) startProxy(ctx context.Context) error {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				nginx, err = p, nil
			}
		}
	}
	if err != nil {
		return errors.New("nginx is not on PATH (apt-get install nginx): the drill runs deploy/nginx.conf in front of the services")
	}
	listen, err := proc.FreeAddr()
	if err != nil {
		return err
	}
	dir := filepath.Join(t.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf, err := deploy.LocalNginxConf(map[string]string{
		"gateway-1:8080": t.gateways[0].Addr, "gateway-2:8080": t.gateways[1].Addr,
		"booker-1:8080": t.bookers[0].Addr, "booker-2:8080": t.bookers[1].Addr,
	}, listen, dir)
	if err != nil {
		return err
	}
	conf = strings.Replace(conf, "access_log /dev/stdout json;", "access_log off;", 1)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	t.proxy = &proc.Process{Name: "nginx", Exe: nginx, Addr: listen, LogPath: filepath.Join(t.dir, "nginx.log"),
		Args: []string{"-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"}}
	t.proxy.Ready = proc.AnswersOK("http://" + listen + "/proxy/healthz")
	t.target = "http://" + listen
	t.undo = append(t.undo, func() { t.proxy.Term(termGrace) })
	return t.proxy.Start(ctx)
}

// heal brings back whatever a fault left down: processes, Redis nodes, and
// waits until the cluster is whole again.
func (t *topology) heal(ctx context.Context) error {
	for _, p := range append([]*proc.Process{t.broker}, t.services()...) {
		if !p.Running() {
			if err := p.Start(ctx); err != nil {
				return err
			}
		}
	}
	for _, n := range t.redis.Nodes {
		if !n.Running() {
			if err := n.Restart(ctx); err != nil {
				return err
			}
		}
	}
	return t.redis.WaitOK(ctx, 60*time.Second)
}

// close stops everything, the proxy and services first.
func (t *topology) close() {
	for _, f := range slices.Backward(t.undo) {
		f()
	}
}
