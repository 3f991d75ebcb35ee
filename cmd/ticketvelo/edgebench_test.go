package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/tools/edgebench"
)

// edgebenchWorld runs edgebench as 'ticketvelo edgebench' would: its
// children are this test binary as the program (TestMain), its temporary
// files in a directory of the test's.
func edgebenchWorld(t *testing.T) (getenv func(string) string, tmp, dbURL string) {
	t.Helper()
	testenv.Tool(t, "wrk", "wrk")
	testenv.Tool(t, "redis-server", "redis-server")
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
	for _, key := range edgebench.TargetKeys() {
		if !strings.Contains(out.String(), "\n| "+key+" | ") {
			t.Errorf("the second table has no row for %s", key)
		}
	}
	for _, row := range []string{"| bare fasthttp, fixed queue-status JSON | ", "| poll, far from the front: GET "} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("the first table has no row %q", row)
		}
	}
	assertNothingLeft(t, tmp, dbURL, "edgebench")
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
	assertNothingLeft(t, tmp, dbURL, "edgebench")
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
// database of the kind exists and the temporary directory is empty.
func assertNothingLeft(t *testing.T, tmp, dbURL, kind string) {
	t.Helper()
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		t.Errorf("processes left running: %v", kids)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if dbs := testenv.ScratchDatabases(t, dbURL, kind); dbs > 0 {
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
