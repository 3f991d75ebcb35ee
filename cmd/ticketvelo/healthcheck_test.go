package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

func TestHealthURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, want string
	}{
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"10.1.2.3:8081", "http://10.1.2.3:8081/healthz"},
		{"[fd00::1]:80", "http://[fd00::1]:80/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := healthURL(tt.addr)
			if err != nil || got != tt.want {
				t.Fatalf("healthURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
	if _, err := healthURL("8080"); err == nil || !strings.Contains(err.Error(), "TICKETVELO_ADDR") {
		t.Fatalf("healthURL(8080) error = %v, want one naming TICKETVELO_ADDR", err)
	}
}

// runHealthcheck runs the real subcommand with args and the given
// environment, as `ticketvelo healthcheck` would.
func runHealthcheck(t *testing.T, vars map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"healthcheck"}, args...), &stdout, &stderr, func(k string) string { return vars[k] })
	return stdout.String() + stderr.String(), err
}

// TestHealthcheckProbesTheRealServer boots the HTTP edge every service
// uses on a loopback port and probes it the way the container healthcheck
// does: by default through TICKETVELO_ADDR, and /readyz through -url.
func TestHealthcheckProbesTheRealServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.NewServer(httpapi.Options{MaxBodyBytes: 1 << 16, ShutdownTimeout: time.Second}, zerolog.Nop())
	failing := errors.New("redis: connection refused")
	srv.AddCheck("redis", func(context.Context) error { return failing })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	out, err := runHealthcheck(t, map[string]string{"TICKETVELO_ADDR": ":" + port})
	if err != nil {
		t.Fatalf("healthcheck of a live process: %v (output %q)", err, out)
	}
	if !strings.Contains(out, "/healthz: 200") {
		t.Errorf("output = %q, want it to name /healthz and 200", out)
	}

	_, err = runHealthcheck(t, nil, "-url", "http://"+ln.Addr().String()+"/readyz")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "redis") {
		t.Fatalf("healthcheck of /readyz with a failing check: error = %v, want 503 naming redis", err)
	}
}

func TestHealthcheckFails(t *testing.T) {
	t.Parallel()
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/healthz"
	closed.Close()

	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"nothing listening", nil, []string{"-url", closedURL}, "connection refused"},
		// A redirect is not health: a proxy answering for a dead process
		// must not make the container look healthy.
		{"redirect", nil, []string{"-url", redirect.URL}, "status 302"},
		{"too slow", nil, []string{"-url", slow.URL, "-timeout", "100ms"}, "deadline exceeded"},
		{"bad TICKETVELO_ADDR", map[string]string{"TICKETVELO_ADDR": "no-port"}, nil, "TICKETVELO_ADDR"},
		{"bad timeout", nil, []string{"-timeout", "0s"}, "-timeout"},
		{"bad url", nil, []string{"-url", "::nonsense"}, "-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := runHealthcheck(t, tt.vars, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("healthcheck took %s; it must give up within its timeout", took)
			}
		})
	}
}
