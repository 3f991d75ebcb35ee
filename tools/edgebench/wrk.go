package edgebench

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/proc"
)

// luaScript is wrk's script: it builds the requests (from token files
// for the targets that need a fan each) and prints the results in one line
// that parseWrk reads.
//
//go:embed edgebench.lua
var luaScript []byte

// errNoWrk says how to get wrk.
var errNoWrk = errors.New("edgebench: wrk is not on PATH; install it with `apt-get install wrk` (Debian package wrk)")

// wrkRequest is what one wrk run sends: METHOD PATH with one optional
// extra header, to addr; with tokens, each request carries the next line
// of the thread's token file (tokens.1, tokens.2, ...) as its
// Authorization header, and limits caps how many lines of each file are
// used before it starts again.
type wrkRequest struct {
	addr, method, path, header string
	tokens                     string
	limits                     []int64
}

// wrkRun is what wrk reported of one run, from edgebench.lua's done().
type wrkRun struct {
	Requests, Bytes                       int64
	Duration                              time.Duration
	P50, P90, P99, Max                    time.Duration
	Connect, Read, Write, Status, Timeout int64
	// Used is how many tokens each thread sent; Wrapped how often a
	// thread ran past its tokens and started again.
	Used    []int64
	Wrapped int64
	// CPU is wrk's own user and system time.
	CPU time.Duration
}

// Errors counts the requests that failed: socket errors, timeouts and
// answers of status 400 or more (wrk does not count 1xx and 3xx, which none
// of the targets answers).
func (r wrkRun) Errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// RPS is the completed requests per second.
func (r wrkRun) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// wrkFlags are the load's shape, the same for every target.
type wrkFlags struct {
	bin, script      string
	threads, conns   int
	duration, maxLat time.Duration
}

// runWrk runs wrk once and parses its result line.
func runWrk(ctx context.Context, f wrkFlags, r wrkRequest) (wrkRun, error) {
	limits := make([]string, len(r.limits))
	for i, n := range r.limits {
		limits[i] = strconv.FormatInt(n, 10)
	}
	ready := ""
	if r.tokens != "" {
		ready = fmt.Sprintf("%s.ready-%d", r.tokens, time.Now().UnixNano())
		defer os.Remove(ready)
	}
	cmd := exec.CommandContext(ctx, f.bin, "-t", strconv.Itoa(f.threads), "-c", strconv.Itoa(f.conns),
		"-d", strconv.Itoa(int(f.duration/time.Second))+"s", "--timeout", strconv.Itoa(int(f.maxLat/time.Second))+"s",
		"-s", f.script, "http://"+r.addr+"/", "--", r.method, r.path, r.header, r.tokens, strings.Join(limits, ","),
		strconv.Itoa(f.threads), ready)
	cmd.SysProcAttr = proc.ChildAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return wrkRun{}, ctx.Err()
		}
		return wrkRun{}, fmt.Errorf("wrk: %w: %s%s", err, stderr.Bytes(), stdout.Bytes())
	}
	run, err := parseWrk(stdout.Bytes())
	if err != nil {
		return wrkRun{}, fmt.Errorf("%w\nwrk printed: %s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	run.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return run, nil
}

// parseWrk reads the EDGEBENCH line of wrk's output.
func parseWrk(out []byte) (wrkRun, error) {
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "EDGEBENCH "); ok {
			line = rest
		}
	}
	if line == "" {
		return wrkRun{}, errors.New("wrk printed no EDGEBENCH line: did edgebench.lua's done() run?")
	}
	var r wrkRun
	ints := map[string]*int64{
		"requests": &r.Requests, "bytes": &r.Bytes, "connect": &r.Connect, "read": &r.Read,
		"write": &r.Write, "status": &r.Status, "timeout": &r.Timeout, "wrapped": &r.Wrapped,
	}
	micros := map[string]*time.Duration{"duration_us": &r.Duration, "p50_us": &r.P50, "p90_us": &r.P90, "p99_us": &r.P99, "max_us": &r.Max}
	seen := 0
	for _, field := range strings.Fields(line) {
		k, v, _ := strings.Cut(field, "=")
		var err error
		switch {
		case ints[k] != nil:
			*ints[k], err = strconv.ParseInt(v, 10, 64)
		case micros[k] != nil:
			var us int64
			us, err = strconv.ParseInt(v, 10, 64)
			*micros[k] = time.Duration(us) * time.Microsecond
		case k == "used":
			r.Used, err = parseInts(v)
		default:
			continue
		}
		if err != nil {
			return wrkRun{}, fmt.Errorf("wrk's EDGEBENCH line: %s: %w", field, err)
		}
		seen++
	}
	if want := len(ints) + len(micros) + 1; seen != want {
		return wrkRun{}, fmt.Errorf("wrk's EDGEBENCH line has %d of its %d fields: %q", seen, want, line)
	}
	return r, nil
}

func parseInts(list string) ([]int64, error) {
	var out []int64
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
