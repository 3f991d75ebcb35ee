package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestStackRunsAsProcesses is `docker compose up` without Docker: every
// TicketVelo service of docker-compose.yml runs as the real binary, with
// its command and its environment, containers' addresses swapped for this
// machine's Postgres and Redis, an embedded Kafka-protocol broker, an SMTP
// server standing in for Mailpit, and (where nginx is installed) the proxy
// config in front. Services start in depends_on order and each waits for
// its dependencies the way Compose does: one-shots must exit 0, healthy
// ones must pass their own healthcheck command. Then the stack is used
// through the proxy: `ticketvelo drop` sells an event to 300 fans across
// both gateways and both bookers and checks no seat sold twice; every
// booking event must reach Kafka and, once the binary runs the notifier,
// make exactly one mail. Last, it is stopped the way `docker compose stop`
// does it.
func TestStackRunsAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the stack of processes")
	}
	t.Parallel()
	stores := newLocalStores(t)
	procs := startStack(t, stores, func(service) bool { return true })

	t.Run("the services share one signing key", func(t *testing.T) {
		var first []byte
		for _, p := range procs {
			if p.role != "gateway" {
				continue
			}
			body := get(t, p.url("/.well-known/jwks.json"))
			if first == nil {
				first = body
			} else if !bytes.Equal(body, first) {
				t.Errorf("%s publishes other keys than the first gateway:\n%s\n%s", p.name, body, first)
			}
		}
		if files, _ := filepath.Glob(filepath.Join(stores.keys, "*")); len(files) != 1 {
			t.Errorf("the signing-keys volume holds %v, want the one key file", files)
		}
	})

	servers := map[string]string{}
	for _, p := range procs {
		servers[p.name+":"+p.port] = p.addr
	}
	var base string
	if nginx, err := exec.LookPath("nginx"); err == nil {
		base = startNginx(t, nginx, servers)
	} else {
		t.Log("nginx is not installed (apt-get install nginx): deploy/nginx.conf's routes are served by a Go proxy instead")
		base = startGoProxy(t, servers)
	}

	t.Run("the seeded events come through the proxy from a gateway", func(t *testing.T) {
		before := requestCounts(t, procs)
		var list struct {
			Events []struct{ ID int64 } `json:"events"`
		}
		if err := json.Unmarshal(get(t, base+"/api/v1/events"), &list); err != nil || len(list.Events) == 0 {
			t.Fatalf("GET /api/v1/events through the proxy: %v, %d events; want the seeded ones", err, len(list.Events))
		}
		checkServedBy(t, procs, before, "gateway")
	})

	t.Run("booker paths reach a booker", func(t *testing.T) {
		before := requestCounts(t, procs)
		resp, err := http.Get(base + "/api/v1/events/1/seats")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("answer of %s, want JSON", ct)
		}
		checkServedBy(t, procs, before, "booker")
	})

	t.Run("a drop through the proxy sells no seat twice", func(t *testing.T) {
		before := requestCounts(t, procs)
		bin, _ := ticketveloBinary()
		// ticketvelo drop checks the invariants itself and fails without them.
		cmd := exec.Command(bin, "drop", "-target", base, "-fans", "300", "-seats", "120",
			"-prequeue", "2s", "-arrivals", "3s", "-rate", "300", "-max-active", "200", "-timeout", "90s")
		cmd.Env = []string{"DATABASE_URL=" + stores.databaseURL, "TICKETVELO_KEY_FILE=" + filepath.Join(stores.keys, "keys.pem"),
			"TICKETVELO_DATA_DIR=" + t.TempDir(), "TICKETVELO_LOG_LEVEL=warn"}
		out, err := cmd.CombinedOutput()
		t.Logf("ticketvelo drop:\n%s", out)
		if err != nil {
			t.Fatalf("ticketvelo drop through the proxy: %v", err)
		}
		// Every copy took its share: the fans' admission tokens, signed by
		// either gateway, were accepted by both bookers.
		after := requestCounts(t, procs)
		for _, p := range procs {
			if !p.oneShot && p.role != "notifier" && after[p.name] == before[p.name] {
				t.Errorf("%s answered none of the drop's requests", p.name)
			}
		}
	})

	t.Run("every booking event reaches Kafka, every order one mail", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		db, err := pgx.Connect(ctx, stores.databaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(ctx)
		// Each order makes a booking.confirmed event and mail, and a
		// canceled one a booking.canceled as well.
		var orders, events int64
		if err := db.QueryRow(ctx, "SELECT count(*), count(*) + count(*) FILTER (WHERE status = 'canceled') FROM orders").Scan(&orders, &events); err != nil {
			t.Fatal(err)
		}
		if orders == 0 {
			t.Fatal("the drop confirmed no order")
		}
		// The bookers' outbox relays mark a row published once Kafka
		// acknowledged it.
		if !bytes.Contains(get(t, procs["booker-1"].url("/metrics")), []byte("ticketvelo_outbox_published_total")) {
			t.Log("`ticketvelo booker` does not run the outbox relay yet: no booking event to follow")
			return
		}
		testenv.Eventually(t, 30*time.Second, func() error {
			var pending, total int64
			if err := db.QueryRow(ctx, "SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FROM outbox").Scan(&pending, &total); err != nil {
				return err
			}
			if pending > 0 || total < events {
				return fmt.Errorf("%d of %d outbox rows unpublished, for %d booking events", pending, total, events)
			}
			return nil
		})
		notifier := procs["notifier"]
		if !bytes.Contains(get(t, notifier.url("/metrics")), []byte("ticketvelo_notifier_consumed_total")) {
			t.Log("`ticketvelo notifier` does not run the notifier yet: no mail to count")
			return
		}
		testenv.Eventually(t, 30*time.Second, func() error {
			if n := stores.mail.mails.Load(); n != events {
				return fmt.Errorf("%d mails for %d booking events", n, events)
			}
			return nil
		})
		time.Sleep(2 * time.Second) // and no second mail for any of them
		if n := stores.mail.mails.Load(); n != events {
			t.Errorf("%d mails for %d booking events, want exactly one each", n, events)
		}
	})

	stopAll(t, procs)
}

// startGoProxy serves deploy/nginx.conf's routing where nginx is not
// installed: its locations pick the upstream (as nginx would pick them),
// its servers take turns, X-Forwarded-For is appended and Host kept. What
// only nginx does (its own error pages, timeouts) is left out.
func startGoProxy(t testing.TB, servers map[string]string) string {
	t.Helper()
	locs := nginxLocations(t)
	upstreams := nginxUpstreams(t)
	proxies := map[string]*httputil.ReverseProxy{}
	for _, list := range upstreams {
		for _, server := range list {
			target := &url.URL{Scheme: "http", Host: servers[server]}
			proxies[server] = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				pr.Out.Host = pr.In.Host
			}}
		}
	}
	var turn atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, ok := routeNginx(locs, r.URL.Path)
		if !ok || l.upstream == "" {
			// nginx answers these itself: the proxy's own health, and a
			// 404 for what is not for the public.
			w.Header().Set("Content-Type", "application/json")
			if l.status == "404" {
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"not found"}}`)
				return
			}
			_, _ = io.WriteString(w, `{"status":"ok"}`)
			return
		}
		list := upstreams[l.upstream]
		proxies[list[turn.Add(1)%uint64(len(list))]].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// localStores are the stand-ins for the stack's stores and volumes.
type localStores struct {
	databaseURL, redisURL, redisPrefix, brokers string
	mail                                        *mailSink // Mailpit's stand-in
	keys                                        string    // the signing-keys volume
}

func newLocalStores(t testing.TB) localStores {
	t.Helper()
	st := localStores{
		databaseURL: testenv.DatabaseURL(t),
		redisURL:    testenv.RedisURL(),
		brokers:     strings.Join(testenv.Kafka(t), ","),
		mail:        startSMTP(t),
		keys:        t.TempDir(),
	}
	_, st.redisPrefix = testenv.Redis(t)
	return st
}

// startStack starts the TicketVelo services of docker-compose.yml that
// want picks, in depends_on order, waiting as Compose does, and returns
// once each one-shot has exited 0 and every other service is healthy.
func startStack(t testing.TB, stores localStores, want func(service) bool) map[string]*process {
	t.Helper()
	bin, err := ticketveloBinary()
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]*process{}
	start := time.Now()
	for _, s := range startOrder(t) {
		if !s.ticketvelo || !want(s) {
			continue // Postgres, Redis, Kafka and Mailpit have their stand-ins already
		}
		for name, dep := range s.DependsOn {
			if p := procs[name]; p != nil {
				p.await(t, dep.Condition)
			}
		}
		procs[s.Name] = startProcess(t, bin, s, stores)
		t.Logf("%s: started `ticketvelo %s` after %s", s.Name, strings.Join(s.Command, " "), time.Since(start).Round(time.Millisecond))
	}
	// Up: every one-shot done (seed too, which nothing waits for), every
	// other service healthy.
	for _, p := range procs {
		if p.oneShot {
			p.await(t, types.ServiceConditionCompletedSuccessfully)
		} else {
			p.await(t, types.ServiceConditionHealthy)
		}
	}
	t.Logf("the stack is up after %s", time.Since(start).Round(time.Millisecond))
	return procs
}

// startOrder is the stack's services, each after those it depends on.
func startOrder(t testing.TB) []service {
	t.Helper()
	all := services(t)
	byName := map[string]service{}
	for _, s := range all {
		byName[s.Name] = s
	}
	var order []service
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(s service)
	visit = func(s service) {
		switch state[s.Name] {
		case 1:
			t.Fatalf("depends_on cycle through %s", s.Name)
		case 2:
			return
		}
		state[s.Name] = 1
		for name := range s.DependsOn {
			visit(byName[name])
		}
		state[s.Name] = 2
		order = append(order, s)
	}
	for _, s := range all {
		visit(s)
	}
	return order
}

// process is one TicketVelo service running as a child process.
type process struct {
	name, role, port, addr string
	oneShot                bool
	healthcheck            []string
	cmd                    *exec.Cmd
	logs                   *syncBuffer
	done                   chan struct{}
	err                    error // set when done closes
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

// startProcess runs s's command with s's environment, rewritten from the
// containers' network to this machine.
func startProcess(t testing.TB, bin string, s service, st localStores) *process {
	t.Helper()
	p := &process{name: s.Name, role: s.role, oneShot: s.oneShot, logs: &syncBuffer{}, done: make(chan struct{})}
	env := []string{"TICKETVELO_REDIS_PREFIX=" + st.redisPrefix, "TICKETVELO_LOG_LEVEL=warn"}
	for name, value := range s.Environment {
		v := ""
		if value != nil {
			v = *value
		}
		switch name {
		case "DATABASE_URL":
			v = st.databaseURL
		case "REDIS_URL":
			v = st.redisURL
		case "KAFKA_BROKERS":
			v = st.brokers
		case "SMTP_URL":
			v = "smtp://" + st.mail.addr
		case "TICKETVELO_ADDR":
			_, p.port, _ = net.SplitHostPort(v)
			p.addr = testenv.FreeAddr(t)
			v = p.addr
		case "TICKETVELO_DATA_DIR":
			v = t.TempDir()
		case "TICKETVELO_KEY_FILE":
			v = filepath.Join(st.keys, filepath.Base(v))
		case "TICKETVELO_TRUSTED_PROXIES":
			v = "127.0.0.1/32" // the proxy runs on loopback here
		default:
			if file, ok := hostPath(s, v); ok {
				v = file // a file the container sees through a bind mount
			}
		}
		env = append(env, name+"="+v)
	}
	if hc := s.HealthCheck; hc != nil && !hc.Disable {
		for _, arg := range hc.Test[2:] { // past CMD /ticketvelo
			p.healthcheck = append(p.healthcheck, strings.Replace(arg, "127.0.0.1:"+p.port, p.addr, 1))
		}
	}
	p.cmd = exec.Command(bin, s.Command...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", s.Name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.logs.tail(4096))
		}
	})
	return p
}

// await blocks until p meets a depends_on condition, as Compose would wait:
// completed means exited 0; healthy means its healthcheck command passed.
func (p *process) await(t testing.TB, condition string) {
	t.Helper()
	switch condition {
	case types.ServiceConditionCompletedSuccessfully:
		select {
		case <-p.done:
			if p.err != nil {
				t.Fatalf("%s (`ticketvelo %s`) failed: %v\n%s", p.name, strings.Join(p.cmd.Args[1:], " "), p.err, p.logs.tail(4096))
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s did not complete within 2 minutes", p.name)
		}
	case types.ServiceConditionHealthy:
		deadline := time.Now().Add(60 * time.Second) // the services' start_period
		for {
			out, err := exec.Command(p.cmd.Path, p.healthcheck...).CombinedOutput()
			if err == nil {
				return
			}
			select {
			case <-p.done:
				t.Fatalf("%s exited before it was healthy: %v\n%s", p.name, p.err, p.logs.tail(4096))
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not healthy after 60 s: %s", p.name, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	default:
		t.Fatalf("%s: cannot wait for condition %q", p.name, condition)
	}
}

// stopAll stops the long-running services as `docker compose stop` does,
// with SIGTERM, and checks each drains the way the compose file promises:
// /readyz fails at once, the process exits 0 after its shutdown delay and
// well before Docker's SIGKILL at stop_grace_period.
func stopAll(t *testing.T, procs map[string]*process) {
	t.Helper()
	t.Run("SIGTERM drains every service within its grace period", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, p := range procs {
			if p.oneShot {
				continue
			}
			s := mustService(t, p.name)
			delay, _ := time.ParseDuration(env(s, "TICKETVELO_SHUTDOWN_DELAY"))
			grace := time.Duration(*s.StopGracePeriod)
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Errorf("%s: %v", p.name, err)
					return
				}
				if delay > 0 {
					// A proxy asking now must be told to go elsewhere.
					time.Sleep(delay / 5)
					if resp, err := http.Get(p.url("/readyz")); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("%s: /readyz during the shutdown delay: %v %v, want 503", p.name, err, resp)
					} else {
						resp.Body.Close()
					}
				}
				select {
				case <-p.done:
				case <-time.After(grace):
					t.Errorf("%s still running %s after SIGTERM: Docker would SIGKILL it", p.name, grace)
					return
				}
				if took := time.Since(start); p.err != nil || took < delay {
					t.Errorf("%s exited after %s with %v; want exit 0 after its %s shutdown delay", p.name, took, p.err, delay)
				}
			}()
		}
		wg.Wait()
	})
}

// requestCounts is each process's count of API requests (health, readiness
// and metrics left out), read from its own /metrics.
func requestCounts(t *testing.T, procs map[string]*process) map[string]float64 {
	t.Helper()
	line := regexp.MustCompile(`^ticketvelo_http_requests_total\{(.*)\} (\S+)$`)
	route := regexp.MustCompile(`route="([^"]*)"`)
	counts := map[string]float64{}
	for _, p := range procs {
		if p.oneShot {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(get(t, p.url("/metrics"))))
		for sc.Scan() {
			m := line.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if r := route.FindStringSubmatch(m[1]); r != nil && (r[1] == "/metrics" || r[1] == "/healthz" || r[1] == "/readyz") {
				continue
			}
			n, _ := strconv.ParseFloat(m[2], 64)
			counts[p.name] += n
		}
	}
	return counts
}

// checkServedBy fails unless exactly one process answered an API request
// since before, and it runs role.
func checkServedBy(t *testing.T, procs map[string]*process, before map[string]float64, role string) {
	t.Helper()
	var served []string
	for name, n := range requestCounts(t, procs) {
		if n != before[name] {
			served = append(served, fmt.Sprintf("%s (+%g)", name, n-before[name]))
			if procs[name].role != role {
				t.Errorf("%s, a %s, answered; want a %s", name, procs[name].role, role)
			}
		}
	}
	if len(served) != 1 {
		t.Errorf("answered by %v, want exactly one %s", served, role)
	}
}

func get(t testing.TB, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, body)
	}
	return body
}

// mailSink is an SMTP server on loopback that accepts any mail without
// auth, as Mailpit does in the stack, and counts what it was given.
type mailSink struct {
	addr  string
	mails atomic.Int64
}

func startSMTP(t testing.TB) *mailSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &mailSink{addr: ln.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return acceptAll{sink}, nil }))
	srv.Domain = "mailpit.test"
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("SMTP server: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return sink
}

// acceptAll takes every message, counting it in its sink when it has one.
type acceptAll struct{ sink *mailSink }

func (acceptAll) Reset()                               {}
func (acceptAll) Logout() error                        { return nil }
func (acceptAll) Mail(string, *smtp.MailOptions) error { return nil }
func (acceptAll) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (a acceptAll) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if a.sink != nil {
		a.sink.mails.Add(1)
	}
	return nil
}

// syncBuffer is a bytes.Buffer a child process and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	return s[max(0, len(s)-n):]
}
