package edgebench

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

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

// TestEdgebenchLuaSendsEachTokenOnce runs wrk with edgebench.lua against a
// server that records what it gets: each thread sends its own file's lines
// in order, up to its limit, and then again from the second line.
func TestEdgebenchLuaSendsEachTokenOnce(t *testing.T) {
	bin := testenv.Tool(t, "wrk", "wrk")
	dir := t.TempDir()
	script := filepath.Join(dir, "edgebench.lua")
	os.WriteFile(script, luaScript, 0o600)
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

	// A request the first run had in flight as wrk stopped may be recorded
	// after the take above (CI once saw one "a2" in the next run's count).
	time.Sleep(100 * time.Millisecond)
	srv.take()
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

func TestVerificationsAreOneFastOnePerTokenRequest(t *testing.T) {
	sample := func(fast, general int64) sample {
		return sample{run: wrkRun{Requests: 1000}, verifications: fast, general: general}
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

// The rounds run every target in the order targetKeys gives, which the
// docs' table of targets follows; a subset keeps that order.
func TestTargetsRunInTargetKeysOrder(t *testing.T) {
	b := &bench{o: Defaults()}
	if got := targetKeysOf(b.defineTargets()); !slices.Equal(got, targetKeys) {
		t.Fatalf("all targets run in the order %v, want %v", got, targetKeys)
	}
	b.o.Targets = "seats,poll-far,bare,join-seen"
	if got, want := targetKeysOf(b.defineTargets()), []string{"bare", "join-seen", "poll-far", "seats"}; !slices.Equal(got, want) {
		t.Fatalf("-targets %s runs %v, want %v", b.o.Targets, got, want)
	}
}

func targetKeysOf(ts []target) []string {
	keys := make([]string, len(ts))
	for i, t := range ts {
		keys[i] = t.key
	}
	return keys
}
