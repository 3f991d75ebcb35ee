package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestLoadgenSmoke runs every phase once, briefly, against the gateway
// mounted in this process, weighs a small queue, and checks that the run
// left nothing behind.
func TestLoadgenSmoke(t *testing.T) {
	testenv.Tool(t, "redis-server", "redis-server")
	dbURL := testenv.DatabaseURL(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	env := map[string]string{"DATABASE_URL": dbURL, "TICKETVELO_LOG_LEVEL": "warn"}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"loadgen", "-duration", "300ms", "-rounds", "1", "-warmup", "10ms", "-conns", "2",
		"-fans", "100", "-memory-fans", "50"}, &out, &errOut, func(k string) string { return env[k] })
	t.Logf("loadgen:\n%s", out.String())
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"| bare fasthttp, fixed JSON | ", "| gateway edge only: GET /healthz | ", "| join, token seen before: ",
		"| join, token never seen: ", "| poll, far from the front: ", "| poll, near the front: ", "MEMORY USAGE of the event's keys: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output has no %q", want)
		}
	}
	assertNothingLeft(t, tmp, dbURL, "loadgen")
}
