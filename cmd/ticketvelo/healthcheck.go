package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// healthcheckCommand probes a TicketVelo process over HTTP and fails unless
// it answers 200. It exists for container healthchecks: the image is
// distroless, so it has no curl or wget, only this binary.
func healthcheckCommand(fs *flag.FlagSet) mainFunc {
	target := fs.String("url", "", "URL to probe (default http://127.0.0.1:<port of TICKETVELO_ADDR>/healthz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	return func(ctx context.Context, e env, _ config.Config) error {
		if *timeout <= 0 {
			return fmt.Errorf("-timeout: expected a positive duration, got %s", *timeout)
		}
		url := *target
		if url == "" {
			addr := e.getenv("TICKETVELO_ADDR")
			if addr == "" {
				addr = config.Default().Addr
			}
			var err error
			if url, err = healthURL(addr); err != nil {
				return err
			}
		}
		return probe(ctx, url, *timeout, e.stdout)
	}
}

// healthURL is the /healthz URL of a process listening on addr: a wildcard
// or empty host is probed on loopback, since the probe runs beside it.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("TICKETVELO_ADDR: expected host:port, got %q", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// probe GETs url and returns nil only for a 200; otherwise the error names
// the status and the start of the body (which says what is failing on
// /readyz), so `docker inspect` shows why a container is unhealthy.
func probe(ctx context.Context, url string, timeout time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("-url: expected an http:// URL, got %q: %w", url, err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probing %s: status %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(out, "%s: %d %s\n", url, resp.StatusCode, strings.TrimSpace(string(body)))
	return nil
}
