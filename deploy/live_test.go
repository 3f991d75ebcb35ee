package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// requireTool is the path of an installed program the test cannot do
// without: missing, the test skips, or fails under CI.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI (apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	}
	return path
}

// child is a program the test runs until it ends or stop is called.
type child struct {
	name string
	cmd  *exec.Cmd
	once sync.Once
	logs bytes.Buffer
}

// startChild runs bin with args and env (on top of PATH and HOME only), and
// stops it when the test ends; its output is logged if the test failed.
func startChild(t *testing.T, name string, env map[string]string, bin string, args ...string) *child {
	t.Helper()
	c := &child{name: name, cmd: exec.Command(bin, args...)}
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = &syncWriter{w: &c.logs}, &syncWriter{w: &c.logs}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		c.stop(syscall.SIGTERM)
		if t.Failed() {
			out := c.logs.String()
			t.Logf("%s output (last 4 KiB):\n%s", name, out[max(0, len(out)-4096):])
		}
	})
	return c
}

// stop sends sig and waits up to 10 s for the program to end, then kills it.
func (c *child) stop(sig os.Signal) {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// waitReady waits until url answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		res, err := httpGet(context.Background(), url)
		if err == nil && res.status != 200 {
			err = &statusError{url: url, status: res.status, body: string(res.body)}
		}
		return err
	})
}

// system is TicketVelo split as an operator runs it: the broker, a
// gateway, a booker and a notifier, each a process of its own over one
// database and Redis prefix, behind deploy/nginx.conf.
type system struct {
	env                               map[string]string
	broker, gateway, booker, notifier *child
	addrs                             map[string]string // role -> host:port of its /metrics
	proxy                             string            // base URL of nginx
}

func startSystem(t *testing.T) *system {
	t.Helper()
	nginx := requireTool(t, "nginx", "nginx")
	bin, err := ticketveloBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, prefix := testenv.Redis(t)
	s := &system{addrs: map[string]string{}, env: map[string]string{
		"DATABASE_URL":            testenv.DatabaseURL(t),
		"REDIS_URL":               testenv.RedisURL(),
		"TICKETVELO_REDIS_PREFIX": prefix,
		"TICKETVELO_DATA_DIR":     t.TempDir(),
		"TICKETVELO_LOG_LEVEL":    "warn",
		"TICKETVELO_SEED":         "false",
		// Every simulated fan comes from 127.0.0.1.
		"TICKETVELO_LIMIT_JOIN_IP": "off",
	}}
	brokerAddr := freePort(t)
	s.env["KAFKA_BROKERS"] = brokerAddr
	s.broker = startChild(t, "broker", s.env, bin, "broker", "--addr", brokerAddr, "--persist=false")
	// The gateway first: it migrates the database and makes the key ring
	// the others read.
	s.gateway = s.startService(t, bin, "gateway")
	s.booker = s.startService(t, bin, "booker")
	s.notifier = s.startService(t, bin, "notifier")
	s.proxy = startNginx(t, nginx, map[string]string{
		"gateway-1:8080": s.addrs["gateway"], "gateway-2:8080": s.addrs["gateway"],
		"booker-1:8080": s.addrs["booker"], "booker-2:8080": s.addrs["booker"],
	})
	return s
}

func (s *system) startService(t *testing.T, bin, role string) *child {
	t.Helper()
	addr := freePort(t)
	env := map[string]string{"TICKETVELO_ADDR": addr}
	for k, v := range s.env {
		env[k] = v
	}
	c := startChild(t, role, env, bin, role)
	waitReady(t, "http://"+addr+"/readyz")
	s.addrs[role] = addr
	return c
}

// probe asks every service's /readyz each second until ctx ends, as the
// compose healthchecks do: the readiness alert counts those answers.
func (s *system) probe(ctx context.Context) {
	for {
		for _, addr := range s.addrs {
			_, _ = httpGet(ctx, "http://"+addr+"/readyz")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// drop runs `ticketvelo drop` through the proxy with args and fails the
// test unless the drop's own invariants held.
func (s *system) drop(t *testing.T, args ...string) string {
	t.Helper()
	bin, _ := ticketveloBinary()
	cmd := exec.Command(bin, append([]string{"drop", "--target", s.proxy}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"DATABASE_URL", "TICKETVELO_DATA_DIR", "TICKETVELO_LOG_LEVEL"} {
		cmd.Env = append(cmd.Env, k+"="+s.env[k])
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "invariants: OK") {
		t.Fatalf("ticketvelo drop %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startPrometheus runs Debian's prometheus on the repository's config and
// rules, rewritten for a test: every service of s as its job's one target,
// scrapes and rule evaluations each second, and every alert's `for`
// shortened to a second so a fault fires it within the test.
func startPrometheus(t *testing.T, s *system) *promAPI {
	t.Helper()
	bin := requireTool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	listen := freePort(t)
	rules := filepath.Join(dir, "rules.yml")
	writeYAML(t, rules, shortenFor(t, ruleFiles(t)))

	var cfg map[string]any
	readYAML(t, &cfg, "prometheus", "prometheus.yml")
	cfg["global"] = map[string]any{"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"}
	cfg["rule_files"] = []string{rules}
	targets := map[string]string{"prometheus": listen}
	for role, addr := range s.addrs {
		targets[role] = addr
	}
	for _, sc := range cfg["scrape_configs"].([]any) {
		sc := sc.(map[string]any)
		job := sc["job_name"].(string)
		addr, ok := targets[job]
		if !ok {
			t.Fatalf("prometheus.yml scrapes job %s, which the test does not run", job)
		}
		sc["static_configs"] = []any{map[string]any{"targets": []string{addr}}}
	}
	conf := filepath.Join(dir, "prometheus.yml")
	writeYAML(t, conf, cfg)
	startChild(t, "prometheus", nil, bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	waitReady(t, "http://"+listen+"/-/ready")
	prom := &promAPI{t: t, base: "http://" + listen}
	// Discovery hands the targets to the scrapers up to 5 s after the start.
	testenv.Eventually(t, 30*time.Second, func() error {
		up, err := prom.instant("count(up == 1)", time.Now())
		if err == nil && (len(up) == 0 || up[0].max() < float64(len(targets))) {
			err = fmt.Errorf("not every target is up yet: %v", up)
		}
		return err
	})
	return prom
}

// shortenFor merges the rule files into one with every `for` set to 1s.
func shortenFor(t *testing.T, files []string) map[string]any {
	t.Helper()
	merged := map[string]any{}
	var groups []any
	for _, f := range files {
		var rf map[string]any
		rel, _ := filepath.Rel(root, f)
		readYAML(t, &rf, rel)
		for _, g := range rf["groups"].([]any) {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				if r := r.(map[string]any); r["for"] != nil {
					r["for"] = "1s"
				}
			}
			groups = append(groups, g)
		}
	}
	merged["groups"] = groups
	return merged
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
