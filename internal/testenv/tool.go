package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Tool is the path of a program the test needs (wrk, redis-server): not on
// PATH, the test skips, or fails under CI=true, whose runner (.ci/run)
// installs it with apt-get install pkg.
func Tool(tb testing.TB, name, pkg string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI but not on PATH (apt-get install %s)", name, pkg)
	}
	tb.Skipf("%s not on PATH, skipping (apt-get install %s; CI=true fails instead)", name, pkg)
	return ""
}
