package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSecretsStayOutOfOutput runs the real program, as a child process
// with its stdout and stderr captured, with a password in each URL it
// reads: unreachable, malformed, of the wrong kind. Whatever stops it,
// the output names the variable to fix and never holds the password. The
// help text, which shows the environment's values as defaults, is checked
// too.
func TestSecretsStayOutOfOutput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["TICKETVELO_SEED"] = "false"
	w.env["TICKETVELO_LOG_LEVEL"] = "debug"
	cases := []struct {
		name, variable, value string
		args                  []string
	}{
		{"unreachable database", "DATABASE_URL", "postgres://u:secret@127.0.0.1:1/x", nil},
		{"database port not a number", "DATABASE_URL", "postgres://u:secret@127.0.0.1:bad/x", nil},
		{"database password with a slash", "DATABASE_URL", "postgres://u:secret/x@127.0.0.1/x", nil},
		{"database password with a bad escape", "DATABASE_URL", "postgres://u:secret%zz@127.0.0.1/x", nil},
		{"database of another kind", "DATABASE_URL", "mysql://u:secret@127.0.0.1/x", nil},
		{"database as key/value settings", "DATABASE_URL", "host=127.0.0.1 user=u password=secret", nil},
		{"database password in the query", "DATABASE_URL", "postgres://u@127.0.0.1:1/x?password=secret", nil},
		{"unreachable Redis", "REDIS_URL", "redis://:secret@127.0.0.1:1/0", nil},
		{"Redis port not a number", "REDIS_URL", "redis://:secret@127.0.0.1:bad/0", nil},
		{"Redis database not a number", "REDIS_URL", "redis://:secret@127.0.0.1:6379/zero", nil},
		{"Redis option Redis refuses", "REDIS_URL", "redis://:secret@127.0.0.1:6379/0?dial_timeout=soon", nil},
		{"SMTP port not a number", "SMTP_URL", "smtp://u:secret@127.0.0.1:bad", nil},
		{"SMTP password with a slash", "SMTP_URL", "smtp://u:secret/x@127.0.0.1", nil},
		{"SMTP of another kind", "SMTP_URL", "ftp://u:secret@127.0.0.1", nil},
		{"SMTP without a host", "SMTP_URL", "smtps://u:secret@", nil},
		{"Kafka broker with credentials", "KAFKA_BROKERS", "u:secret@127.0.0.1:9092", nil},
		{"help", "DATABASE_URL", "postgres://u:secret@127.0.0.1/x", []string{"-h"}},
		{"mistyped flag", "SMTP_URL", "smtp://u:secret@127.0.0.1:587", []string{"-no-such-flag"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range w.env {
				env[k] = v
			}
			env[c.variable] = c.value
			out, err := runProgram(t, env, append([]string{"all"}, c.args...)...)
			if c.args == nil && err == nil {
				t.Fatalf("the program ran with %s=%s; want it to stop", c.variable, c.value)
			}
			if strings.Contains(out, "secret") {
				t.Errorf("the output holds the password:\n%s", out)
			}
			if !strings.Contains(out, c.variable) {
				t.Errorf("the output does not name %s:\n%s", c.variable, out)
			}
		})
	}
}

// runProgram runs this test binary as the real program with env only (no
// variable of the test's own environment leaks in) and returns what it
// wrote to stdout and stderr.
func runProgram(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = []string{"TICKETVELO_AS_PROGRAM=1", "TICKETVELO_ARGS=" + strings.Join(args, " "), "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the program did not stop within 30 s:\n%s", out)
	}
	return string(out), err
}
