package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func TestParseWrk(t *testing.T) {
	out := "Running 8s test @ http://127.0.0.1:1/\n  85875 requests in 1.10s, 23.42MB read\n" +
		"EDGEBENCH requests=85875 duration_us=1099668 bytes=24560250 p50_us=39 p90_us=110 p99_us=941 max_us=3778 " +
		"connect=1 read=2 write=3 status=4 timeout=5 used=44507,41372 wrapped=7\n"
	r, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := wrkRun{Requests: 85875, Bytes: 24560250, Duration: 1099668 * time.Microsecond, P50: 39 * time.Microsecond,
		P90: 110 * time.Microsecond, P99: 941 * time.Microsecond, Max: 3778 * time.Microsecond,
		Connect: 1, Read: 2, Write: 3, Status: 4, Timeout: 5, Used: []int64{44507, 41372}, Wrapped: 7}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if r.Errors() != 15 {
		t.Errorf("Errors: got %d, want 15", r.Errors())
	}
	if got := r.RPS(); got < 78091 || got > 78092 {
		t.Errorf("RPS: got %f, want 78091.7", got)
	}
	for name, bad := range map[string]string{
		"no line":       "Running 8s test\n",
		"missing field": "EDGEBENCH requests=1 duration_us=1\n",
		"not a number":  strings.Replace(out, "p99_us=941", "p99_us=9.4e2", 1),
	} {
		if _, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := []byte("4242 (ticket (velo) x) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 130 0 0 20 0 9 0 1000 0 0\n")
	got, err := parseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3800 * time.Millisecond; got != want {
		t.Errorf("got %s, want utime 250 + stime 130 ticks = %s", got, want)
	}
	if _, err := parseProcStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("a short line: got no error")
	}
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		// Spend a few clock ticks of CPU.
	}
	own, err := procCPU(os.Getpid())
	if err != nil || own <= 0 {
		t.Errorf("this process: got %s, %v, want some CPU time", own, err)
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want string
	}{
		{[]float64{12}, "12"},
		{[]float64{30, 10, 20}, "20 (10–30)"},
		{[]float64{1, 2, 3, 4}, "2.5 (1–4)"},
		{[]float64{10.01, 10.02}, "10"},
	} {
		if got := spreadOf(tc.xs).format("%.3g"); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.xs, got, tc.want)
		}
	}
}

func TestSettledLeavesOutWhatMayBeInFlight(t *testing.T) {
	run := wrkRun{Duration: 8 * time.Second, Max: 300 * time.Millisecond, Used: []int64{80_000, 40, 0}}
	got := settled(run, 32)
	// 80,000 × 0.4 s / 8 s = 4,000 sent in the last 400 ms, and 32 more;
	// 40 × 0.4 s / 8 s = 2, and 32.
	if want := []int64{75_968, 6, 0}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestFailedAnswersNameRouteAndStatus(t *testing.T) {
	before := map[string]int64{`ticketvelo_http_requests_total{route="/api/v1/events/{id}/queue",method="GET",status="404"}`: 3}
	after := map[string]int64{
		`ticketvelo_http_requests_total{route="/api/v1/events/{id}/queue",method="GET",status="404"}`: 5,
		`ticketvelo_http_requests_total{route="/api/v1/events/{id}/queue",method="GET",status="200"}`: 900,
		`ticketvelo_http_requests_total{route="/metrics",method="GET",status="200"}`:                  1,
	}
	got := failedAnswers(countsSince(before, after))
	if want := "; the server counted GET /api/v1/events/{id}/queue 404 ×2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	values := countsOf(map[string]float64{fastVerifications: 12, "other": 3}, fastVerifications)
	if len(values) != 1 || values[fastVerifications] != 12 {
		t.Errorf("countsOf: got %v, want the one series", values)
	}
}

// needTool skips when a program is not on PATH, or fails under CI=true,
// whose runner (.ci/run) installs it.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI but not on PATH (apt-get install %s)", name, pkg)
	}
	t.Skipf("%s not on PATH, skipping (apt-get install %s; CI=true fails instead)", name, pkg)
	return ""
}

// TestEdgebenchLuaSendsEachTokenOnce runs wrk with edgebench.lua against a
// server that records what it gets: each thread sends its own file's lines
// in order, up to its limit, and then again from the second line.
func TestEdgebenchLuaSendsEachTokenOnce(t *testing.T) {
	bin := needTool(t, "wrk", "wrk")
	dir := t.TempDir()
	script := filepath.Join(dir, "edgebench.lua")
	os.WriteFile(script, edgebenchLua, 0o600)
	os.WriteFile(filepath.Join(dir, "tok.1"), []byte("a1\na2\na3\na4\na5\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "tok.2"), []byte("b1\nb2\nb3\n"), 0o600)
	srv := recordingServer(t)
	f := wrkFlags{bin: bin, script: script, threads: 2, conns: 2, duration: time.Second, maxLat: 2 * time.Second}

	run, err := runWrk(context.Background(), f, wrkRequest{addr: srv.addr, method: "POST", path: "/q", header: "X-Test: yes",
		tokens: filepath.Join(dir, "tok"), limits: []int64{3, 99}})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.take()
	if got["a4"]+got["a5"] > 0 || got["a1"] > 1 || got["b1"] != 1 {
		t.Errorf("past the limit or the first line again: got %v", got)
	}
	if got["a2"] < 2 || got["a3"] < 2 || got["b2"] < 2 || got["b3"] < 2 {
		t.Errorf("a thread did not go round its tokens: got %v", got)
	}
	if got["bad"] > 0 {
		t.Errorf("%d requests were not POST /q with X-Test and an empty body", got["bad"])
	}
	if run.Requests == 0 || run.Errors() != 0 || run.Wrapped == 0 || len(run.Used) != 2 || run.CPU <= 0 {
		t.Errorf("got %+v, want requests, no errors, wraps, two threads' counts and wrk's CPU", run)
	}

	run, err = runWrk(context.Background(), f, wrkRequest{addr: srv.addr, method: "GET", path: "/s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.take(); got["static"] == 0 || len(got) != 1 || run.Used[0] != 0 {
		t.Errorf("a run without tokens: got %v and %+v, want only GET /s without Authorization", got, run)
	}
}

type recorder struct {
	addr string
	mu   sync.Mutex
	seen map[string]int
}

// recordingServer counts the Authorization headers it gets.
func recordingServer(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{addr: ln.Addr().String(), seen: map[string]int{}}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		key := string(ctx.Request.Header.Peek("Authorization"))
		switch {
		case key == "" && string(ctx.Method()) == "GET" && string(ctx.Path()) == "/s":
			key = "static"
		case string(ctx.Method()) != "POST" || string(ctx.Path()) != "/q" || string(ctx.Request.Header.Peek("X-Test")) != "yes" ||
			ctx.Request.Header.ContentLength() != 0:
			key = "bad"
		}
		r.mu.Lock()
		r.seen[key]++
		r.mu.Unlock()
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return r
}

func (r *recorder) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.seen
	r.seen = map[string]int{}
	return got
}

// edgebenchWorld runs edgebench as 'ticketvelo edgebench' would: its
// children are this test binary as the program (TestMain), its temporary
// files in a directory of the test's.
func edgebenchWorld(t *testing.T) (getenv func(string) string, tmp, dbURL string) {
	t.Helper()
	needTool(t, "wrk", "wrk")
	needTool(t, "redis-server", "redis-server")
	dbURL = testenv.DatabaseURL(t)
	tmp = t.TempDir()
	t.Setenv("TICKETVELO_AS_PROGRAM", "1")
	t.Setenv("TMPDIR", tmp)
	env := map[string]string{"DATABASE_URL": dbURL, "TICKETVELO_LOG_LEVEL": "warn"}
	return func(k string) string { return env[k] }, tmp, dbURL
}

// TestEdgebenchSmoke runs every target once, briefly, through the real
// processes, and checks the tables and that the run left nothing behind.
func TestEdgebenchSmoke(t *testing.T) {
	getenv, tmp, dbURL := edgebenchWorld(t)
	var out, errOut bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"edgebench", "-rounds", "1", "-duration", "1s", "-threads", "1", "-conns", "2",
		"-join-rate", "10000", "-crowd", "100"}, &out, &errOut, getenv)
	t.Logf("edgebench took %s:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("edgebench: %v\n%s", err, errOut.String())
	}
	for _, key := range edgeTargetKeys {
		if !strings.Contains(out.String(), "\n| "+key+" | ") {
			t.Errorf("the second table has no row for %s", key)
		}
	}
	for _, row := range []string{"| bare fasthttp, fixed queue-status JSON | ", "| poll, far from the front: GET "} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("the first table has no row %q", row)
		}
	}
	assertNothingLeft(t, tmp, dbURL)
}

// TestEdgebenchCleansUpWhenInterrupted stops a run as Ctrl-C does, once it
// measures, and checks that it left nothing behind.
func TestEdgebenchCleansUpWhenInterrupted(t *testing.T) {
	getenv, tmp, dbURL := edgebenchWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{word: "measuring", cancel: cancel}
	err := run(ctx, []string{"edgebench", "-rounds", "5", "-duration", "5s", "-join-rate", "1", "-crowd", "0", "-targets", "bare,event"},
		out, os.Stderr, getenv)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the run cancelled\n%s", err, out.buf.String())
	}
	assertNothingLeft(t, tmp, dbURL)
}

// cancelOn calls cancel once word has been written to it.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	word   string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.word) {
		c.cancel()
	}
	return len(p), nil
}

// assertNothingLeft checks that no child of this process runs, no scratch
// database exists and the temporary directory is empty.
func assertNothingLeft(t *testing.T, tmp, dbURL string) {
	t.Helper()
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		t.Errorf("processes left running: %v", kids)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	ctx := context.Background()
	admin, _, _ := database.WithName(dbURL, func(string) string { return "postgres" })
	_, name, _ := database.WithName(dbURL, func(n string) string { return n })
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var dbs int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", name+"_edgebench_%").Scan(&dbs); err != nil {
		t.Fatal(err)
	}
	if dbs > 0 {
		t.Errorf("%d scratch databases left", dbs)
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, string(b[:i+1]))
		}
	}
	return out
}

func TestVerificationsAreOneFastOnePerTokenRequest(t *testing.T) {
	sample := func(fast, general int64) edgeSample {
		return edgeSample{run: wrkRun{Requests: 1000}, verifications: fast, general: general}
	}
	for _, tc := range []struct {
		key           string
		fast, general int64
		suspect       bool
	}{
		{"join-new", 1000, 0, false},
		{"join-new", 10, 0, true},
		{"join-seen", 1000, 0, false},
		{"poll-far", 1000, 300, true}, // the fast path missed
		{"event", 0, 0, false},
		{"event", 900, 0, true},
		{"seats", -1, -1, false}, // the booker verifies none
	} {
		if got := verificationsOff(tc.key, sample(tc.fast, tc.general)); (got != "") != tc.suspect {
			t.Errorf("%s with %d fast and %d general verifications: got %q, want suspect %v", tc.key, tc.fast, tc.general, got, tc.suspect)
		}
	}
}
