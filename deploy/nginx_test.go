package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// directive is one nginx directive; block is set for those with { ... }.
type directive struct {
	name  string
	args  []string
	block []directive
}

// parseNginx reads nginx's configuration syntax: words and quoted strings,
// ';' ending a directive, '{ }' blocks, '#' comments.
func parseNginx(src string) ([]directive, error) {
	var tokens []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '{' || c == '}' || c == ';':
			tokens = append(tokens, string(c))
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string at byte %d", i)
			}
			tokens = append(tokens, "\x00"+b.String()) // marked: a string, never a brace
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n{};", rune(src[j])) {
				j++
			}
			tokens = append(tokens, src[i:j])
			i = j
		}
	}
	pos := 0
	var block func(depth int) ([]directive, error)
	block = func(depth int) ([]directive, error) {
		var out []directive
		var words []string
		for pos < len(tokens) {
			tok := tokens[pos]
			pos++
			switch tok {
			case ";":
				if len(words) == 0 {
					return nil, fmt.Errorf("empty directive")
				}
				out = append(out, directive{name: words[0], args: words[1:]})
				words = nil
			case "{":
				if len(words) == 0 {
					return nil, fmt.Errorf("block without a directive")
				}
				inner, err := block(depth + 1)
				if err != nil {
					return nil, err
				}
				out = append(out, directive{name: words[0], args: words[1:], block: inner})
				words = nil
			case "}":
				if depth == 0 || len(words) > 0 {
					return nil, fmt.Errorf("unexpected } after %q", words)
				}
				return out, nil
			default:
				words = append(words, strings.TrimPrefix(tok, "\x00"))
			}
		}
		if depth > 0 || len(words) > 0 {
			return nil, fmt.Errorf("unexpected end of file")
		}
		return out, nil
	}
	return block(0)
}

func find(ds []directive, name string) []directive {
	var out []directive
	for _, d := range ds {
		if d.name == name {
			out = append(out, d)
		}
	}
	return out
}

// nginxHTTP is the http block of deploy/nginx.conf.
func nginxHTTP(t testing.TB) []directive {
	t.Helper()
	conf, err := parseNginx(string(readFile(t, "deploy", "nginx.conf")))
	if err != nil {
		t.Fatalf("deploy/nginx.conf: %v", err)
	}
	http := find(conf, "http")
	if len(http) != 1 {
		t.Fatalf("deploy/nginx.conf has %d http blocks, want 1", len(http))
	}
	return http[0].block
}

// nginxUpstreams maps each upstream of deploy/nginx.conf to its servers.
func nginxUpstreams(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, u := range find(nginxHTTP(t), "upstream") {
		for _, s := range find(u.block, "server") {
			out[u.args[0]] = append(out[u.args[0]], s.args[0])
		}
	}
	return out
}

// location is a location block of the proxy's server.
type location struct {
	modifier, pattern string
	re                *regexp.Regexp
	upstream          string // from proxy_pass http://NAME
	status            string // from return STATUS ..., for what nginx answers itself
}

func nginxLocations(t testing.TB) []location {
	t.Helper()
	servers := find(nginxHTTP(t), "server")
	if len(servers) != 1 {
		t.Fatalf("deploy/nginx.conf has %d servers, want 1", len(servers))
	}
	var out []location
	for _, d := range find(servers[0].block, "location") {
		l := location{pattern: d.args[len(d.args)-1]}
		if len(d.args) == 2 {
			l.modifier = d.args[0]
		}
		switch l.modifier {
		case "~":
			l.re = regexp.MustCompile(l.pattern)
		case "~*":
			l.re = regexp.MustCompile("(?i)" + l.pattern)
		}
		for _, p := range find(d.block, "proxy_pass") {
			l.upstream = strings.TrimPrefix(p.args[0], "http://")
		}
		for _, r := range find(d.block, "return") {
			l.status = r.args[0]
		}
		out = append(out, l)
	}
	return out
}

// routeNginx picks the location nginx picks for path: an exact match; else
// the longest prefix if it is ^~; else the first regex that matches, in
// file order; else the longest prefix.
func routeNginx(locs []location, path string) (location, bool) {
	var longest *location
	for i, l := range locs {
		switch l.modifier {
		case "=":
			if l.pattern == path {
				return l, true
			}
		case "", "^~":
			if strings.HasPrefix(l.pattern, "@") || !strings.HasPrefix(path, l.pattern) {
				continue
			}
			if longest == nil || len(l.pattern) > len(longest.pattern) {
				longest = &locs[i]
			}
		}
	}
	if longest != nil && longest.modifier == "^~" {
		return *longest, true
	}
	for _, l := range locs {
		if l.re != nil && l.re.MatchString(path) {
			return l, true
		}
	}
	if longest != nil {
		return *longest, true
	}
	return location{}, false
}

// apiRoute is one METHOD /path of docs/API.md and the service that serves it.
type apiRoute struct {
	method, path, role string
}

// apiRoutes reads every `METHOD /path` of docs/API.md; the paths under a
// heading that names the booker are the booker's, the rest the gateway's.
func apiRoutes(t *testing.T) []apiRoute {
	t.Helper()
	span := regexp.MustCompile("`((?:GET|POST|PUT|DELETE|PATCH)(?:/(?:GET|POST|PUT|DELETE|PATCH))*) (/[^`\\s]*)`")
	var routes []apiRoute
	role := "gateway"
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "docs", "API.md")))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			role = "gateway"
			if strings.Contains(strings.ToLower(line), "booker") {
				role = "booker"
			}
		}
		for _, m := range span.FindAllStringSubmatch(line, -1) {
			path := strings.NewReplacer("{id}", "42").Replace(m[2])
			for _, method := range strings.Split(m[1], "/") {
				routes = append(routes, apiRoute{method, path, role})
			}
		}
	}
	if len(routes) < 10 {
		t.Fatalf("docs/API.md yields %d routes; has its format changed?", len(routes))
	}
	return routes
}

var upstreamRole = map[string]string{"gateways": "gateway", "bookers": "booker"}

// refusedAtProxy are paths the proxy answers 404 itself, in any case and
// with anything below them: each service serves them on its own port, to
// Prometheus (prometheus/prometheus.yml), not to the public.
var refusedAtProxy = []string{"/metrics", "/METRICS", "/Metrics", "/metrics/", "/metrics/x"}

func refused(path string) bool {
	return strings.EqualFold(path, "/metrics") || strings.HasPrefix(strings.ToLower(path), "/metrics/")
}

// nearMisses are paths that look like the booker's but are the gateway's
// (or nobody's: the gateway answers its JSON 404).
var nearMisses = []apiRoute{
	{"GET", "/", "gateway"},
	{"GET", "/assets/index-3f2a.js", "gateway"},
	{"GET", "/api/v1/events/42/seats/extra", "gateway"},
	{"GET", "/api/v1/events/42/seats/status/x", "gateway"},
	{"GET", "/api/v1/events/42/queue", "gateway"},
	{"GET", "/api/v1/ordersheet", "gateway"},
	{"GET", "/api/v1/holds", "gateway"},
	{"GET", "/api/v1/events/seats", "gateway"},
}

// TestProxyRoutesEveryAPIPath sends each path of the API contract through
// nginx's location matching, as written in deploy/nginx.conf.
func TestProxyRoutesEveryAPIPath(t *testing.T) {
	t.Parallel()
	locs := nginxLocations(t)
	var booker int
	for _, path := range refusedAtProxy {
		if l, ok := routeNginx(locs, path); !ok || l.upstream != "" || l.status != "404" {
			t.Errorf("%s goes to location %s %s (upstream %q, return %q), want the proxy's own 404", path, l.modifier, l.pattern, l.upstream, l.status)
		}
	}
	for _, r := range append(apiRoutes(t), nearMisses...) {
		if refused(r.path) {
			continue
		}
		l, ok := routeNginx(locs, r.path)
		if !ok {
			t.Errorf("%s %s matches no location", r.method, r.path)
			continue
		}
		if got := upstreamRole[l.upstream]; got != r.role {
			t.Errorf("%s %s goes to upstream %q (location %s %s), want the %s's", r.method, r.path, l.upstream, l.modifier, l.pattern, r.role)
		}
		if r.role == "booker" {
			booker++
		}
	}
	for _, l := range locs {
		// nginx answers GET /x with a 301 to /x/ for such a location.
		if (l.modifier == "" || l.modifier == "^~") && l.pattern != "/" && strings.HasSuffix(l.pattern, "/") && l.upstream != "" {
			t.Errorf("location %s %s ends in '/': nginx redirects %s to it with a 301; use a regex location", l.modifier, l.pattern, strings.TrimSuffix(l.pattern, "/"))
		}
	}
	if booker < 5 {
		t.Errorf("only %d booker routes found in docs/API.md; the test would prove little", booker)
	}
}

func TestParseNginx(t *testing.T) {
	t.Parallel()
	ds, err := parseNginx("a 1;\n# c { ;\nb x {\n  c 'q;{}' \"d\\\"e\";\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].name != "a" || ds[1].name != "b" || len(ds[1].block) != 1 {
		t.Fatalf("parsed %+v", ds)
	}
	if got := ds[1].block[0].args; len(got) != 2 || got[0] != "q;{}" || got[1] != `d"e` {
		t.Errorf("string arguments = %q", got)
	}
	for _, bad := range []string{"a {", "a }", "}", "a 'x;", "{ }", ";"} {
		if _, err := parseNginx(bad); err == nil {
			t.Errorf("parseNginx(%q) succeeded, want an error", bad)
		}
	}
}

// TestProxyWithRealNginx runs deploy/nginx.conf in the real nginx, with
// the containers' names swapped for four backends on loopback, and checks
// routing, balancing, X-Forwarded-For, failover and the JSON errors. It
// runs only where nginx is installed (apt-get install nginx); elsewhere
// TestProxyRoutesEveryAPIPath still checks the routing rules.
func TestProxyWithRealNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx): the proxy config was checked by TestProxyRoutesEveryAPIPath only")
	}
	t.Parallel()
	checkNginxSyntax(t, nginx)

	backends := map[string]*httpBackend{}
	servers := map[string]string{}
	for _, upstream := range nginxUpstreams(t) {
		for _, server := range upstream {
			name, _, _ := strings.Cut(server, ":")
			backends[server] = startBackend(t, name)
			servers[server] = backends[server].addr
		}
	}
	base := startNginx(t, nginx, servers)

	t.Run("every API path reaches its service", func(t *testing.T) {
		for _, r := range append(apiRoutes(t), nearMisses...) {
			if refused(r.path) {
				continue
			}
			got := proxied(t, r.method, base+r.path, nil, nil)
			if got.role() != r.role {
				t.Errorf("%s %s answered by %q, want a %s", r.method, r.path, got.Backend, r.role)
			}
			if got.Path != r.path || got.Method != r.method {
				t.Errorf("%s %s arrived as %s %s", r.method, r.path, got.Method, got.Path)
			}
		}
	})

	t.Run("both copies of a service share the load", func(t *testing.T) {
		seen := map[string]int{}
		for range 20 {
			seen[proxied(t, "GET", base+"/api/v1/events", nil, nil).Backend]++
			seen[proxied(t, "GET", base+"/api/v1/events/42/seats", nil, nil).Backend]++
		}
		for _, name := range []string{"gateway-1", "gateway-2", "booker-1", "booker-2"} {
			if seen[name] == 0 {
				t.Errorf("%s answered none of 20 requests: %v", name, seen)
			}
		}
	})

	t.Run("metrics are refused at the proxy, in any spelling", func(t *testing.T) {
		// nginx decodes %XX, merges slashes and resolves dot segments
		// before it picks a location, as the services' router would.
		for _, path := range append(refusedAtProxy, "//metrics", "/%6detrics", "/./metrics", "/api/../metrics", "/metrics?name[]=x") {
			resp := do(t, "GET", base+path, nil, nil)
			checkJSONError(t, resp, http.StatusNotFound, "not_found")
		}
		if resp := do(t, "GET", base+"/metricsx", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /metricsx: %d, want it passed to the gateway like any page", resp.StatusCode)
		}
	})

	t.Run("X-Forwarded-For is appended, Host kept", func(t *testing.T) {
		got := proxied(t, "GET", base+"/api/v1/events", map[string]string{"X-Forwarded-For": "203.0.113.9", "Host": "tickets.example"}, nil)
		// The services read it from the right: the last hop is the real
		// peer (here the test, on loopback), the forged one is left of it.
		if got.XFF != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For = %q, want the client's value with the peer appended", got.XFF)
		}
		if got.Host != "tickets.example" {
			t.Errorf("Host = %q, want the client's", got.Host)
		}
	})

	t.Run("bodies up to 1 MiB reach the service, larger get JSON 413", func(t *testing.T) {
		body := bytes.Repeat([]byte("x"), 256<<10)
		if got := proxied(t, "POST", base+"/api/v1/events/42/holds", nil, body); got.BodyLen != len(body) {
			t.Errorf("service received %d bytes of a %d-byte body", got.BodyLen, len(body))
		}
		resp := do(t, "POST", base+"/api/v1/events/42/holds", nil, bytes.Repeat([]byte("x"), 2<<20))
		checkJSONError(t, resp, http.StatusRequestEntityTooLarge, "body_too_large")
	})

	t.Run("a copy that is down is skipped, even for POST", func(t *testing.T) {
		backend(t, backends, "booker-1:8080").stop()
		for range 6 {
			if got := proxied(t, "POST", base+"/api/v1/holds/42/confirm", nil, []byte(`{}`)); got.Backend != "booker-2" {
				t.Fatalf("answered by %q with booker-1 down, want booker-2", got.Backend)
			}
		}
	})

	t.Run("no copy up is a JSON 503 with Retry-After", func(t *testing.T) {
		backend(t, backends, "booker-2:8080").stop()
		resp := do(t, "GET", base+"/api/v1/orders", nil, nil)
		checkJSONError(t, resp, http.StatusServiceUnavailable, "unavailable")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		// The gateways are still up and still answer.
		if got := proxied(t, "GET", base+"/api/v1/events", nil, nil); got.role() != "gateway" {
			t.Errorf("gateway path answered by %q", got.Backend)
		}
	})
}

// startNginx runs deploy/nginx.conf in nginx, listening on a free loopback
// port, with each upstream server (a container's name:port) replaced by the
// loopback address servers gives for it, and returns its base URL. nginx
// stops when the test ends; its output is logged if the test failed.
func startNginx(t testing.TB, nginx string, servers map[string]string) string {
	t.Helper()
	// Not t.TempDir: nginx's workers drop root and must reach the
	// temporary files under it, so every directory on the path is 0755.
	dir, err := os.MkdirTemp("", "ticketvelo-nginx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	src, err := LocalNginxConf(servers, listen, dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"}
	if out, err := exec.Command(nginx, append([]string{"-t", "-q"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects deploy/nginx.conf: %v\n%s", err, out)
	}
	var logs bytes.Buffer
	cmd := exec.Command(nginx, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // fast shutdown
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			out := logs.String()
			t.Logf("nginx output (last 4 KiB):\n%s", out[max(0, len(out)-4096):])
		}
	})
	base := "http://" + listen
	waitFor(t, base+"/proxy/healthz")
	return base
}

// checkNginxSyntax runs `nginx -t` on deploy/nginx.conf as it is, names
// and `resolve` included, when the installed nginx is new enough for
// `resolve` (1.27.3); the image runs 1.28. Older ones (Debian 12 has 1.22)
// check the config only with the names swapped out, in startNginx.
func checkNginxSyntax(t *testing.T, nginx string) {
	t.Helper()
	out, _ := exec.Command(nginx, "-v").CombinedOutput()
	m := regexp.MustCompile(`nginx/(\d+\.\d+\.\d+)`).FindSubmatch(out)
	if m == nil || compareVersions(string(m[1]), "1.27.3") < 0 {
		t.Logf("%s predates `resolve` in upstreams (1.27.3): checking the config with the upstream names replaced only", bytes.TrimSpace(out))
		return
	}
	dir := t.TempDir()
	args := []string{"-t", "-q", "-p", dir, "-c", repoPath("deploy", "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "pid " + filepath.Join(dir, "nginx.pid") + ";"}
	if out, err := exec.Command(nginx, args...).CombinedOutput(); err != nil {
		t.Errorf("nginx -t rejects deploy/nginx.conf as the image runs it: %v\n%s", err, out)
	}
}

// echo is what a fake backend answers: who it is and what it received.
type echo struct {
	Backend, Method, Path, XFF, Host string
	BodyLen                          int
}

func (e echo) role() string { name, _, _ := strings.Cut(e.Backend, "-"); return name }

type httpBackend struct {
	addr string
	srv  *http.Server
}

func (b *httpBackend) stop() { _ = b.srv.Close() }

func backend(t *testing.T, backends map[string]*httpBackend, server string) *httpBackend {
	t.Helper()
	b, ok := backends[server]
	if !ok {
		t.Fatalf("deploy/nginx.conf has no upstream server %s", server)
	}
	return b
}

func startBackend(t *testing.T, name string) *httpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Backend: name, Method: r.Method, Path: r.URL.Path,
			XFF: r.Header.Get("X-Forwarded-For"), Host: r.Host, BodyLen: int(n)})
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &httpBackend{addr: ln.Addr().String(), srv: srv}
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 10s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func do(t *testing.T, method, url string, headers map[string]string, body []byte) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	// Redirects are not followed: the proxy must route, not redirect.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func proxied(t *testing.T, method, url string, headers map[string]string, body []byte) echo {
	t.Helper()
	resp := do(t, method, url, headers, body)
	var e echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, %v", method, url, resp.StatusCode, err)
	}
	return e
}

// checkJSONError checks an answer nginx made itself has the API's error
// shape (docs/API.md), not nginx's HTML page.
func checkJSONError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("body = %+v (%v), want error code %q with a message", body, err, code)
	}
}

// TestLocalNginxConfKeepsTheUpstreamParameters checks that pointing the
// config at local processes swaps only the names: the parameters that decide
// how long a failed copy is skipped stay, `resolve` goes.
func TestLocalNginxConfKeepsTheUpstreamParameters(t *testing.T) {
	servers := map[string]string{"gateway-1:8080": "127.0.0.1:1001", "gateway-2:8080": "127.0.0.1:1002",
		"booker-1:8080": "127.0.0.1:1003", "booker-2:8080": "127.0.0.1:1004"}
	conf, err := LocalNginxConf(servers, "127.0.0.1:9999", "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range servers {
		if want := "server " + addr + " max_fails=1 fail_timeout=2s;"; !strings.Contains(conf, want) {
			t.Errorf("the local config lacks %q", want)
		}
	}
	if regexp.MustCompile(`server [^;]* resolve\b|resolver 127`).MatchString(conf) {
		t.Error("the local config still resolves names through Docker's DNS")
	}
	if _, err := LocalNginxConf(map[string]string{}, "127.0.0.1:9999", "/tmp/x"); err == nil {
		t.Error("no error for upstream servers without an address")
	}
}
