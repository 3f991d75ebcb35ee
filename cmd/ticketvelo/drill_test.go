package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/tools/drill"
)

// TestDrillCI is the CI-sized drill: the split topology as processes of
// this test binary (TestMain) with a Redis Cluster with replicas, its own
// PostgreSQL (or a scratch database on the shared one) and nginx, 300 fans
// for 450 seats per drop, one drop per fast fault. Every fault must keep
// the invariants: no 5xx but 503, no seat sold twice, every order mailed
// exactly once, the outbox published, every fan answered. Afterwards no
// process and no file of the drill may be left.
func TestDrillCI(t *testing.T) {
	for _, tool := range []string{"redis-server", "nginx"} {
		testenv.Tool(t, tool, tool)
	}
	dbURL := testenv.DatabaseURL(t)
	// Not t.TempDir: PostgreSQL and nginx's workers run as nobody and must
	// reach the drill's files, so every directory on the way is 0755.
	tmp, err := os.MkdirTemp("", "drill-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	t.Setenv("TICKETVELO_AS_PROGRAM", "1")
	t.Setenv("TICKETVELO_SMTP_TIMEOUT", "5s")
	env := map[string]string{"DATABASE_URL": dbURL, "TICKETVELO_LOG_LEVEL": "warn"}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	err = run(ctx, []string{"drill", "-faults", strings.Join(drill.CIFaults, ","),
		"-fans", "300", "-seats", "450", "-rate", "60", "-max-active", "80",
		"-prequeue", "2s", "-arrivals", "4s", "-fault-at", "2s", "-timeout", "90s", "-settle", "60s"},
		&out, &errOut, func(k string) string { return env[k] })
	t.Logf("drill took %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("drill: %v\n%s", err, errOut.String())
	}
	report := out.String()
	for _, f := range drill.CIFaults {
		block, ok := drillBlock(report, f)
		if !ok {
			t.Errorf("no report of fault %s", f)
			continue
		}
		if f == "postgres" && strings.Contains(block, "skipped:") && os.Getenv("CI") != "true" {
			continue // no PostgreSQL of its own here; CI has one
		}
		for _, want := range []string{"5xx other than 503: 0;", "invariants: OK", "fairness: "} {
			if !strings.Contains(block, want) {
				t.Errorf("fault %s: the report lacks %q", f, want)
			}
		}
	}
	assertNoDrillLeft(t, tmp)
}

// drillBlock is the report's block of one fault, from its "== name:" line
// to the next.
func drillBlock(report, fault string) (string, bool) {
	_, rest, ok := strings.Cut(report, "\n== "+fault+": ")
	if !ok {
		return "", false
	}
	block, _, _ := strings.Cut(rest, "\n== ")
	block, _, _ = strings.Cut(block, "\n| fault |")
	return block, true
}

// assertNoDrillLeft checks that no process runs from the drill's directory
// (PostgreSQL daemonizes, so it is no child of ours) and that the directory
// was removed.
func assertNoDrillLeft(t *testing.T, tmp string) {
	t.Helper()
	if kids := childrenOf(os.Getpid()); len(kids) > 0 {
		t.Errorf("processes left running: %v", kids)
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(tmp)) {
			t.Errorf("process %s left running: %s", filepath.Base(filepath.Dir(path)), bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("files left: %v", left)
	}
}
