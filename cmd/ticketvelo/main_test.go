package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestMain lets a test start this test binary as the real program in a
// child process: with TICKETVELO_AS_PROGRAM set it runs main instead, with
// the arguments in TICKETVELO_ARGS or, without it, its own (as edgebench
// starts its children).
func TestMain(m *testing.M) {
	if os.Getenv("TICKETVELO_AS_PROGRAM") == "1" {
		args := os.Args[1:]
		if a := os.Getenv("TICKETVELO_ARGS"); a != "" {
			args = strings.Fields(a)
		}
		os.Args = append([]string{"ticketvelo"}, args...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// world is the environment of one program under test: its own database,
// Redis prefix, data dir, HTTP port and embedded broker port.
type world struct {
	env  map[string]string
	base string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, prefix := testenv.Redis(t)
	addr := testenv.FreeAddr(t)
	return &world{
		base: "http://" + addr,
		env: map[string]string{
			"DATABASE_URL":            testenv.DatabaseURL(t),
			"REDIS_URL":               testenv.RedisURL(),
			"TICKETVELO_REDIS_PREFIX": prefix,
			"TICKETVELO_BROKER_ADDR":  "127.0.0.1:0",
			"TICKETVELO_ADDR":         addr,
			"TICKETVELO_DATA_DIR":     t.TempDir(),
			"TICKETVELO_LOG_LEVEL":    "warn",
		},
	}
}

func (w *world) getenv(k string) string { return w.env[k] }

// start runs the program with args in this process until the test ends or
// stop is called; stop returns run's error.
func (w *world) start(t *testing.T, args ...string) (stop func() error) {
	t.Helper()
	return w.startWith(t, nil, args...)
}

// startWith is start with some of the world's variables set otherwise, for
// another process of the same deployment (a second booker on its own port).
func (w *world) startWith(t *testing.T, env map[string]string, args ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return w.getenv(k)
	}
	go func() { done <- run(ctx, args, io.Discard, &lockedWriter{w: &stderr}, getenv) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("the program did not stop within 30 s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func (w *world) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	waitReady(t, w.base, within)
}

func waitReady(t *testing.T, base string, within time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, func() error {
		code, body, err := get(base + "/readyz")
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("readyz %d: %s", code, body)
		}
		return nil
	})
}

func TestAllStartsReadyAndRestartsOnItsData(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	start := time.Now()
	stop := w.start(t, "all")
	w.waitReady(t, 30*time.Second)
	t.Logf("ready after %s", time.Since(start).Round(time.Millisecond))
	code, _, _ := get(w.base + "/healthz")
	if code != 200 {
		t.Errorf("healthz: got %d, want 200", code)
	}
	_, metrics, _ := get(w.base + "/metrics")
	if !strings.Contains(metrics, `ticketvelo_http_requests_total{route="/readyz",method="GET",status="200"}`) {
		t.Error("metrics do not count the readiness requests")
	}
	// Every family of every module (gateway, booker, notifier) has its
	// HELP and TYPE, and Prometheus's own checker accepts the scrape.
	testenv.CheckExposition(t, []byte(metrics))
	if err := stop(); err != nil {
		t.Fatalf("first run ended with %v, want a clean stop", err)
	}

	stop = w.start(t, "all")
	w.waitReady(t, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("second run ended with %v", err)
	}
	conn, err := pgx.Connect(context.Background(), w.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var events, seats int
	if err := conn.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM seats)").Scan(&events, &seats); err != nil {
		t.Fatal(err)
	}
	if events != 2 || seats != 19920+2496 {
		t.Errorf("after two runs: %d events and %d seats, want the 2 seeded events with 22416 seats", events, seats)
	}
}

func TestReadinessFailsWhenRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	proxy := testenv.StartProxy(t, "127.0.0.1:6379")
	w.env["REDIS_URL"] = "redis://" + proxy.Addr() + "/0"
	w.env["TICKETVELO_SEED"] = "false"
	w.start(t, "all")
	w.waitReady(t, 30*time.Second)

	proxy.Cut()
	testenv.Eventually(t, 15*time.Second, func() error {
		code, body, err := get(w.base + "/readyz")
		if err != nil {
			return err
		}
		var r struct {
			Failing []string `json:"failing"`
		}
		_ = json.Unmarshal([]byte(body), &r)
		if code != 503 || len(r.Failing) != 1 || r.Failing[0] != "redis" {
			return fmt.Errorf("readyz %d %s, want 503 naming redis", code, body)
		}
		return nil
	})
	if code, _, _ := get(w.base + "/healthz"); code != 200 {
		t.Errorf("healthz: got %d, want 200 while only Redis is gone", code)
	}
}

// TestThreeProcessesMigrateOnce starts three real processes of the program
// on one empty database at the same moment.
func TestThreeProcessesMigrateOnce(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs = 3
	outs := make([]string, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), "TICKETVELO_AS_PROGRAM=1", "TICKETVELO_ARGS=migrate", "DATABASE_URL="+url, "TICKETVELO_LOG_FORMAT=json")
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	migrated := 0
	for i := range procs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		if strings.Contains(outs[i], `"database migrated"`) {
			migrated++
		}
	}
	if migrated != 1 {
		t.Errorf("%d processes applied migrations, want exactly 1:\n%s", migrated, strings.Join(outs, "\n---\n"))
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, distinct int
	if err := conn.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows == 0 {
		t.Errorf("schema_migrations has %d rows for %d versions", rows, distinct)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "mysql://db/tv"}
	err := run(context.Background(), []string{"all"}, io.Discard, io.Discard, func(k string) string { return env[k] })
	if err == nil || !strings.HasPrefix(err.Error(), "DATABASE_URL:") {
		t.Errorf("got %v, want an error starting with DATABASE_URL:", err)
	}
}

func TestHelpListsCommandsAndFlags(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if listed := strings.Contains(out.String(), "  "+c.name+" "); listed == c.hidden {
			t.Errorf("help lists %s: %v, want %v", c.name, listed, !c.hidden)
		}
	}
	for _, c := range commands {
		var flags bytes.Buffer
		err := run(context.Background(), []string{c.name, "-h"}, &flags, io.Discard, func(string) string { return "" })
		if err == nil || !strings.Contains(flags.String(), "Usage: ticketvelo "+c.name) {
			t.Errorf("%s -h: got %v and %q, want usage", c.name, err, flags.String())
		}
	}
	var all bytes.Buffer
	_ = run(context.Background(), []string{"all", "-h"}, &all, io.Discard, func(string) string { return "" })
	for _, env := range []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "SMTP_URL", "TICKETVELO_ADDR", "TICKETVELO_DATA_DIR", "TICKETVELO_LOG_LEVEL", "TICKETVELO_LOG_FORMAT"} {
		if !strings.Contains(all.String(), "env "+env+")") {
			t.Errorf("all -h does not name %s", env)
		}
	}
	if err := run(context.Background(), []string{"nonsense"}, io.Discard, io.Discard, func(string) string { return "" }); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: got %v, want a usage error", err)
	}
}
