package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// edge is one test's gateway on a real listener over a fresh database and
// its own Redis prefix.
type edge struct {
	base    string
	srv     *httpapi.Server
	pool    *pgxpool.Pool
	redis   rueidis.Client
	prefix  string
	ring    *tokens.Ring
	users   *identity.Store
	catalog *catalog.Store
	room    *admission.Room
	cfg     gateway.Config
	client  *http.Client
	pgProxy *testenv.Proxy // between the gateway and Postgres, with edgeOptions.pgProxy
	// redisProxy is between the gateway and Redis, with edgeOptions.redisProxy.
	redisProxy *testenv.Proxy
}

type edgeOptions struct {
	cfg     func(*gateway.Config)
	trusted []*net.IPNet
	ring    *tokens.Ring
	now     func() time.Time // the gateway's clock; time.Now when nil
	hash    *identity.Params // argon2id costs; cheap ones when nil
	// pgProxy puts the gateway's Postgres connections behind a proxy the
	// test can cut or stall (edge.pgProxy); edge.pool stays direct.
	pgProxy bool
	// redisProxy puts the gateway's Redis behind a proxy the test can cut
	// or stall (edge.redisProxy); edge.redis stays direct.
	redisProxy bool
}

func newRing(t testing.TB) *tokens.Ring {
	t.Helper()
	k, err := tokens.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := tokens.NewRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noLimits turns the abuse limits off for tests about something else.
func noLimits(c *gateway.Config) {
	off := config.RateLimit{}
	c.RegisterPerIP, c.RegisterPerAccount, c.LoginPerIP, c.LoginPerAccountIP, c.LoginPerAccount, c.JoinPerIP, c.JoinPerAccount = off, off, off, off, off, off, off
}

func newEdge(t testing.TB, o edgeOptions) *edge {
	t.Helper()
	url, pool := testenv.Postgres(t)
	gwPool, proxy := pool, (*testenv.Proxy)(nil)
	if o.pgProxy {
		gwPool, proxy = proxiedPool(t, url)
	}
	direct, prefix := testenv.Redis(t)
	client, redisProxy := direct, (*testenv.Proxy)(nil)
	if o.redisProxy {
		client, redisProxy = testenv.ProxyRedis(t)
	}
	ring := o.ring
	if ring == nil {
		ring = newRing(t)
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	cfg := gateway.DefaultConfig()
	cfg.Admission.Interval = 50 * time.Millisecond // e.controller's steps
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	hash := identity.Params{MemoryKiB: 64, Time: 1, Threads: 1}
	if o.hash != nil {
		hash = *o.hash
	}
	users, err := identity.NewStore(gwPool, hash, cfg.Hashing)
	if err != nil {
		t.Fatal(err)
	}
	store := catalog.NewStore(gwPool)
	room := admission.NewRoom(cfg.Admission, admission.Deps{Client: client, Prefix: prefix, Ring: ring})
	t.Cleanup(room.Close) // its held-back writes land before the test's keys go
	gw, err := gateway.New(cfg, gateway.Deps{
		Users: users, Catalog: store, Events: catalog.NewCache(store, time.Second, config.Default().StoreTimeout, time.Now), Room: room, Ring: ring,
		Redis: client, Prefix: prefix, TrustedProxies: o.trusted, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(httpapi.Options{MaxBodyBytes: 64 << 10, ShutdownTimeout: 5 * time.Second, TrustedProxies: o.trusted}, zerolog.Nop())
	gw.Routes(srv.Router)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	t.Cleanup(func() {
		// A graceful shutdown waits for open connections: the test's idle
		// ones go first, or a busy machine can run out its timeout.
		httpClient.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	return &edge{
		base: "http://" + ln.Addr().String(), srv: srv, pool: pool, redis: direct, prefix: prefix, ring: ring,
		users: users, catalog: store, room: room, cfg: cfg, pgProxy: proxy, redisProxy: redisProxy, client: httpClient,
	}
}

// reply is an HTTP answer with its JSON body decoded.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code is the error code of an error reply.
func (r reply) code() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r reply) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r reply) num(path ...string) float64 {
	v := r.get(path...)
	f, _ := v.(float64)
	return f
}

func (r reply) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// call sends body (JSON unless a string) with the bearer token and headers.
func (e *edge) call(t testing.TB, method, path, token string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r, err := e.send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.status >= 500 {
		t.Fatalf("%s %s: %d %s", method, path, r.status, r.raw)
	}
	return r
}

// send does req and decodes a JSON answer, whatever its status. Unlike
// call it may run outside the test's goroutine.
func (e *edge) send(req *http.Request) (reply, error) {
	res, err := e.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("invalid JSON %q: %w", raw, err)
		}
	}
	return r, nil
}

// register makes a fan through the API and returns the access token.
func (e *edge) register(t testing.TB, email string) (string, int64) {
	t.Helper()
	r := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": "a long passphrase", "name": "Fan"})
	if r.status != 201 {
		t.Fatalf("register %s: %d %s", email, r.status, r.raw)
	}
	return r.str("access_token"), int64(r.num("user", "id"))
}

// opsToken makes an ops account the way the CLI does and signs its token.
func (e *edge) opsToken(t testing.TB) string {
	t.Helper()
	u, err := e.users.Create(context.Background(), identity.Registration{Email: testenv.RandomName("ops") + "@example.com", Password: "ops passphrase 1", Name: "Ops"}, tokens.RoleOps)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.ring.IssueAccess(u.ID, tokens.RoleOps, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fanToken signs an access token for user id without an account row: the
// waiting room trusts the token, not the table.
func (e *edge) fanToken(t testing.TB, userID int64) string {
	t.Helper()
	tok, _, err := e.ring.IssueAccess(userID, tokens.RoleFan, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// event seeds an event of seats seats whose sale opens at opens.
func (e *edge) event(t testing.TB, seats int, opens time.Time) int64 {
	t.Helper()
	r, err := e.catalog.SeedGrid(context.Background(), testenv.RandomName("g"), seats, opens)
	if err != nil {
		t.Fatal(err)
	}
	return r.EventID
}

// controller runs an admission controller on the edge's room until the
// test ends, stepping every 50 ms.
func (e *edge) controller(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sales := func(ctx context.Context, now time.Time) ([]admission.Sale, error) {
		list, err := e.catalog.Sales(ctx, now, time.Minute)
		out := make([]admission.Sale, len(list))
		for i, s := range list {
			out[i] = admission.Sale{EventID: s.EventID, OpensAt: s.SaleOpensAt, Seats: s.Capacity}
		}
		return out, err
	}
	c := admission.NewController(e.room, sales, time.Now, zerolog.Nop())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// proxiedPool opens a pool on the database of url through a proxy the test
// can cut or stall.
func proxiedPool(t testing.TB, url string) (*pgxpool.Pool, *testenv.Proxy) {
	t.Helper()
	url, proxy := testenv.ProxyPostgres(t, url)
	pool, err := database.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, proxy
}
