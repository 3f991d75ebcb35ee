package deploy

import (
	"cmp"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ticketvelo/ticketvelo/booker"
	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/notifier"
)

// loadCompose loads docker-compose.yml with compose-go, the library `docker
// compose` itself loads files with, so this is what `docker compose config`
// would say: the compose-spec JSON schema, interpolation, merge keys, and
// the consistency checks (depends_on targets, declared volumes and
// networks). Neither the machine's variables nor a .env file are read, so
// every ${VAR:-default} takes its default.
var loadCompose = sync.OnceValues(func() (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{repoPath("docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv([]string{}))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
})

func project(t testing.TB) *types.Project {
	t.Helper()
	p, err := loadCompose()
	if err != nil {
		t.Fatalf("docker-compose.yml does not load as `docker compose config` would: %v", err)
	}
	return p
}

// service is one service of the stack with what the checks derive from it.
type service struct {
	types.ServiceConfig
	ticketvelo bool   // built from the repository's Dockerfile
	role       string // its subcommand, for TicketVelo services
	oneShot    bool   // it runs to completion (migrate, seed)
}

func services(t testing.TB) []service {
	t.Helper()
	p := project(t)
	var out []service
	for _, name := range p.ServiceNames() {
		s := service{ServiceConfig: p.Services[name]}
		s.ticketvelo = s.Build != nil
		if s.ticketvelo && len(s.Command) > 0 {
			s.role = s.Command[0]
		}
		s.oneShot = s.Restart == types.RestartPolicyNo
		out = append(out, s)
	}
	return out
}

func ticketveloServices(t testing.TB, long bool) []service {
	t.Helper()
	var out []service
	for _, s := range services(t) {
		if s.ticketvelo && (!long || !s.oneShot) {
			out = append(out, s)
		}
	}
	return out
}

func env(s service, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func mustService(t testing.TB, name string) service {
	t.Helper()
	for _, s := range services(t) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("docker-compose.yml has no service %q", name)
	return service{}
}

func TestComposeLoadsAsDockerComposeConfig(t *testing.T) {
	t.Parallel()
	p := project(t)
	if p.Name != "ticketvelo" {
		t.Errorf("project name = %q, want ticketvelo (container and volume names derive from it)", p.Name)
	}
	for _, s := range services(t) {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s has neither image nor build", s.Name)
		}
		for _, port := range s.Ports {
			published, err := strconv.Atoi(port.Published)
			if err != nil || published < 1 || published > 65535 || port.Target < 1 || port.Target > 65535 {
				t.Errorf("service %s: port %s:%d is not a host:container pair of port numbers", s.Name, port.Published, port.Target)
			}
			if port.HostIP != "" && net.ParseIP(port.HostIP) == nil {
				t.Errorf("service %s: port host address %q is not an IP", s.Name, port.HostIP)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s, which is not in the repository: %v", s.Name, v.Source, err)
				}
				if !v.ReadOnly {
					t.Errorf("service %s mounts %s writable; configuration from the repository is mounted read-only", s.Name, v.Source)
				}
			}
		}
	}
}

// TestComposeImages pins the images the issue asks for, each with a tag so
// `docker compose up` next month runs what was tested.
func TestComposeImages(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"postgres":   `^postgres:16$`,
		"redis":      `^redis:7-alpine$`,
		"kafka":      `^apache/kafka:\d+\.\d+\.\d+$`,
		"mailpit":    `^axllent/mailpit:v\d+\.\d+(\.\d+)?$`,
		"prometheus": `^prom/prometheus:v\d+\.\d+\.\d+$`,
		"grafana":    `^grafana/grafana:\d+\.\d+\.\d+$`,
		"proxy":      `^nginx:\d+\.\d+(\.\d+)?-alpine$`,
	}
	for name, pattern := range want {
		s := mustService(t, name)
		if !regexp.MustCompile(pattern).MatchString(s.Image) {
			t.Errorf("service %s runs image %q, want one matching %s", name, s.Image, pattern)
		}
		if s.Build != nil {
			t.Errorf("service %s builds an image; it should run %s as published", name, s.Image)
		}
	}
	for _, s := range services(t) {
		if _, ok := want[s.Name]; !ok && !s.ticketvelo {
			t.Errorf("service %s (image %q) is neither a TicketVelo service nor one the issue lists", s.Name, s.Image)
		}
	}
}

// TestComposeTicketVeloServices checks the scale-out the design promises:
// two gateways, two bookers, one notifier, and the one-shot migrate and
// seed, all from one image built from the repository's Dockerfile.
func TestComposeTicketVeloServices(t *testing.T) {
	t.Parallel()
	counts := map[string]int{}
	images := map[string]bool{}
	for _, s := range ticketveloServices(t, false) {
		counts[s.role]++
		images[s.Image] = true
		if s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("service %s builds %s with %s, want the repository root with its Dockerfile", s.Name, s.Build.Context, s.Build.Dockerfile)
		}
		if s.role == "migrate" || s.role == "seed" {
			if !s.oneShot {
				t.Errorf("service %s runs the one-shot %q with restart %q, want \"no\"", s.Name, s.role, s.Restart)
			}
		} else if s.Restart != types.RestartPolicyUnlessStopped && s.Restart != types.RestartPolicyAlways {
			t.Errorf("service %s has restart %q; a long-running service must come back after a crash", s.Name, s.Restart)
		}
	}
	want := map[string]int{"gateway": 2, "booker": 2, "notifier": 1, "migrate": 1, "seed": 1}
	for role, n := range want {
		if counts[role] != n {
			t.Errorf("%d services run `ticketvelo %s`, want %d", counts[role], role, n)
		}
	}
	for role := range counts {
		if _, ok := want[role]; !ok {
			t.Errorf("a service runs `ticketvelo %s`, which the stack does not plan for", role)
		}
	}
	if len(images) != 1 {
		t.Errorf("TicketVelo services name images %v, want one image for all (built once)", images)
	}
}

// TestComposeCommandsExist asks the real binary: every command, flag and
// environment variable a TicketVelo service uses must be one it knows, so
// a renamed flag or a misspelt variable fails here and not at 3 a.m.
func TestComposeCommandsExist(t *testing.T) {
	t.Parallel()
	known := subcommands(t)
	envName := regexp.MustCompile(`\(env ([A-Z0-9_]+)\)`)
	for _, s := range ticketveloServices(t, false) {
		if !slices.Contains(known, s.role) {
			t.Errorf("service %s runs `ticketvelo %s`; the binary's commands are %v", s.Name, s.role, known)
			continue
		}
		help := binaryHelp(t, s.role, "-h")
		checkFlags(t, s.Name, help, s.Command[1:])
		accepted := map[string]bool{}
		for _, m := range envName.FindAllStringSubmatch(help, -1) {
			accepted[m[1]] = true
		}
		for name := range s.Environment {
			if !accepted[name] && !goRuntimeEnv[name] {
				t.Errorf("service %s sets %s, which `ticketvelo %s` does not read", s.Name, name, s.role)
			}
		}
		if hc := s.HealthCheck; hc != nil && !hc.Disable {
			if len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/ticketvelo" || hc.Test[2] != "healthcheck" {
				t.Errorf("service %s healthcheck %q, want [CMD /ticketvelo healthcheck ...]: the image has no shell", s.Name, hc.Test)
				continue
			}
			if !slices.Contains(known, "healthcheck") {
				t.Fatalf("the binary has no healthcheck command; its commands are %v", known)
			}
			checkFlags(t, s.Name+" healthcheck", binaryHelp(t, "healthcheck", "-h"), hc.Test[3:])
		}
	}
}

// goRuntimeEnv are variables Go's runtime and standard library read in any
// program, so the binary's help does not list them.
var goRuntimeEnv = map[string]bool{"SSL_CERT_FILE": true, "SSL_CERT_DIR": true, "GODEBUG": true, "GOMAXPROCS": true, "GOMEMLIMIT": true, "TZ": true}

// hostPath is the file of the repository that a service sees at path
// through one of its bind mounts.
func hostPath(s service, path string) (string, bool) {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if path == v.Target {
			return v.Source, true
		}
		if rest, ok := strings.CutPrefix(path, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, rest), true
		}
	}
	return "", false
}

// checkFlags fails for every -flag in args that help does not list.
func checkFlags(t *testing.T, where, help string, args []string) {
	t.Helper()
	for _, arg := range args {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `\b`).MatchString(help) {
			t.Errorf("%s passes -%s, which the command does not have:\n%s", where, name, help)
		}
	}
}

// TestComposeEnvironmentParses runs each TicketVelo service's environment
// through the binary's own config reader and validation, so a value that
// does not parse (a duration without a unit, a CIDR typo) fails here.
func TestComposeEnvironmentParses(t *testing.T) {
	t.Parallel()
	all := config.Stores | config.Serving | config.Files | config.Seeding | config.Keys
	for _, s := range ticketveloServices(t, false) {
		getenv := func(name string) string { return env(s, name) }
		fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
		b := config.NewBinder(fs, getenv)
		cfg := config.Default()
		cfg.RegisterFlags(b, all)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := cmp.Or(b.Err(), cfg.Validate(all)); err != nil {
			t.Errorf("service %s: the binary rejects its environment: %v", s.Name, err)
		}
		gw, bk, nt := gateway.DefaultConfig(), booker.DefaultConfig(), notifier.DefaultConfig()
		for _, svc := range []config.Settings{&gw, &bk, &nt} {
			if err := config.Load(svc, getenv); err != nil {
				t.Errorf("service %s: the binary rejects its environment: %v", s.Name, err)
			}
		}
	}
}

// TestComposeEnvironmentIsComplete checks each TicketVelo service gets
// every store it opens from the environment, pointing at the service that
// runs that store, and not the loopback defaults that suit a laptop.
func TestComposeEnvironmentIsComplete(t *testing.T) {
	t.Parallel()
	pg := mustService(t, "postgres")
	kafka := mustService(t, "kafka")
	for _, s := range ticketveloServices(t, false) {
		need := []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "TICKETVELO_DATA_DIR"}
		if !s.oneShot {
			need = append(need, "TICKETVELO_ADDR", "TICKETVELO_KEY_FILE")
		}
		switch s.role {
		case "gateway", "booker":
			need = append(need, "TICKETVELO_TRUSTED_PROXIES", "TICKETVELO_SHUTDOWN_DELAY")
		case "notifier":
			need = append(need, "SMTP_URL")
		}
		for _, name := range need {
			if env(s, name) == "" {
				t.Errorf("service %s does not set %s", s.Name, name)
			}
		}

		db, err := url.Parse(env(s, "DATABASE_URL"))
		if err == nil {
			password, _ := db.User.Password()
			if db.Hostname() != pg.Name || db.Port() != "5432" || db.User.Username() != env(pg, "POSTGRES_USER") ||
				password != env(pg, "POSTGRES_PASSWORD") || strings.TrimPrefix(db.Path, "/") != env(pg, "POSTGRES_DB") {
				t.Errorf("service %s: DATABASE_URL %s does not match the postgres service (user %s, database %s)",
					s.Name, db.Redacted(), env(pg, "POSTGRES_USER"), env(pg, "POSTGRES_DB"))
			}
		}
		if r, err := url.Parse(env(s, "REDIS_URL")); err == nil && (r.Hostname() != "redis" || r.Port() != "6379") {
			t.Errorf("service %s: REDIS_URL %s does not point at the redis service", s.Name, r)
		}
		if got, want := env(s, "KAFKA_BROKERS"), strings.TrimPrefix(env(kafka, "KAFKA_ADVERTISED_LISTENERS"), "PLAINTEXT://"); got != want {
			t.Errorf("service %s: KAFKA_BROKERS = %q, want the broker's advertised listener %q", s.Name, got, want)
		}
		if s.role == "notifier" {
			checkMailpitTLS(t, s, mustService(t, "mailpit"))
		}
		for dep := range s.DependsOn {
			if dep == pg.Name && !s.oneShot {
				t.Errorf("service %s waits for postgres directly; it should wait for migrate to complete", s.Name)
			}
		}
	}
}

// TestComposeSharedSigningKey checks every process signs and verifies with
// the one key file on one volume, and that a single process creates it: the
// others start only once that one is healthy.
func TestComposeSharedSigningKey(t *testing.T) {
	t.Parallel()
	long := ticketveloServices(t, true)
	keyFile := env(long[0], "TICKETVELO_KEY_FILE")
	var volume string
	var creators []string
	for _, s := range long {
		if got := env(s, "TICKETVELO_KEY_FILE"); got != keyFile {
			t.Errorf("service %s: TICKETVELO_KEY_FILE = %q, want %q like the others", s.Name, got, keyFile)
		}
		mounted := ""
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == filepath.Dir(keyFile) {
				mounted = v.Source
			}
		}
		if mounted == "" {
			t.Errorf("service %s has no named volume at %s, where its key file is", s.Name, filepath.Dir(keyFile))
		} else if volume == "" {
			volume = mounted
		} else if mounted != volume {
			t.Errorf("service %s mounts volume %s at %s, want %s like the others", s.Name, mounted, filepath.Dir(keyFile), volume)
		}
		if !dependsOnHealthy(t, s, "gateway") {
			creators = append(creators, s.Name)
		}
	}
	if len(creators) != 1 {
		t.Errorf("services %v may start without a healthy gateway before them, so they may race to create the signing key; want exactly one", creators)
	}
}

// dependsOnHealthy reports whether s waits, directly or through other
// services, for a healthy service running role.
func dependsOnHealthy(t *testing.T, s service, role string) bool {
	t.Helper()
	for name, dep := range s.DependsOn {
		other := mustService(t, name)
		if dep.Condition == types.ServiceConditionHealthy && other.role == role {
			return true
		}
		if dependsOnHealthy(t, other, role) {
			return true
		}
	}
	return false
}

// TestComposeHealthchecks checks every long-running service has a
// healthcheck, one-shots have none, and each depends_on condition is one its
// target can meet.
func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	byName := map[string]service{}
	for _, s := range services(t) {
		byName[s.Name] = s
	}
	for _, s := range services(t) {
		hc := s.HealthCheck
		switch {
		case s.oneShot && (hc == nil || !hc.Disable):
			t.Errorf("one-shot service %s should disable the image's healthcheck (it exits)", s.Name)
		case !s.oneShot && (hc == nil || hc.Disable || len(hc.Test) == 0):
			t.Errorf("service %s has no healthcheck", s.Name)
		case !s.oneShot:
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || *hc.Timeout > *hc.Interval {
				t.Errorf("service %s: healthcheck needs an interval, a timeout no longer than it, and retries", s.Name)
			}
		}
		if s.ticketvelo && !s.oneShot {
			_, port, _ := net.SplitHostPort(env(s, "TICKETVELO_ADDR"))
			probe := strings.Join(hc.Test, " ")
			if !strings.Contains(probe, "127.0.0.1:"+port+"/readyz") {
				t.Errorf("service %s listens on port %s but its healthcheck is %q; it should probe that port's /readyz so dependents wait for its stores", s.Name, port, probe)
			}
		}
		for name, dep := range s.DependsOn {
			target := byName[name]
			switch dep.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable {
					t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", s.Name, name, name)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if !target.oneShot {
					t.Errorf("service %s waits for %s to complete, but %s never exits", s.Name, name, name)
				}
			default:
				t.Errorf("service %s depends on %s with condition %q; say what it waits for (healthy or completed)", s.Name, name, dep.Condition)
			}
		}
	}
}

// TestComposeGracefulShutdown checks Docker waits longer than a service
// takes to drain: readiness fails for the shutdown delay, then in-flight
// requests get the shutdown timeout, and only then may SIGKILL come.
func TestComposeGracefulShutdown(t *testing.T) {
	t.Parallel()
	for _, s := range ticketveloServices(t, true) {
		delay, timeout := config.Default().ShutdownDelay, config.Default().ShutdownTimeout
		if v := env(s, "TICKETVELO_SHUTDOWN_DELAY"); v != "" {
			delay, _ = time.ParseDuration(v)
		}
		if v := env(s, "TICKETVELO_SHUTDOWN_TIMEOUT"); v != "" {
			timeout, _ = time.ParseDuration(v)
		}
		grace := 10 * time.Second // Docker's default
		if s.StopGracePeriod != nil {
			grace = time.Duration(*s.StopGracePeriod)
		}
		if grace <= delay+timeout {
			t.Errorf("service %s: stop_grace_period %s is not longer than shutdown delay %s + timeout %s", s.Name, grace, delay, timeout)
		}
		if (s.role == "gateway" || s.role == "booker") && delay < time.Second {
			t.Errorf("service %s is behind the proxy but fails readiness for only %s before closing", s.Name, delay)
		}
	}
}

// TestComposeProxy checks the proxy is the one public door and that the
// services believe X-Forwarded-For from it and from nothing else.
func TestComposeProxy(t *testing.T) {
	t.Parallel()
	p := project(t)
	proxy := mustService(t, "proxy")
	var public []string
	for _, s := range services(t) {
		for _, port := range s.Ports {
			if port.HostIP == "" || port.HostIP == "0.0.0.0" || port.HostIP == "::" {
				public = append(public, fmt.Sprintf("%s:%s", s.Name, port.Published))
			}
		}
	}
	if !slices.Equal(public, []string{"proxy:8080"}) {
		t.Errorf("ports published on every host address: %v, want only proxy:8080 (the rest on 127.0.0.1)", public)
	}

	if len(proxy.Networks) != 1 {
		t.Fatalf("proxy is on networks %v, want one", proxy.Networks)
	}
	for netName, cfg := range proxy.Networks {
		ip := net.ParseIP(cfg.Ipv4Address)
		if ip == nil {
			t.Fatalf("proxy has no fixed ipv4_address on %s, so the services cannot trust it alone", netName)
		}
		var inSubnet bool
		for _, pool := range p.Networks[netName].Ipam.Config {
			if _, subnet, err := net.ParseCIDR(pool.Subnet); err == nil && subnet.Contains(ip) {
				inSubnet = true
			}
		}
		if !inSubnet {
			t.Errorf("proxy address %s is outside the subnet of network %s", ip, netName)
		}
		for _, s := range ticketveloServices(t, true) {
			if s.role != "gateway" && s.role != "booker" {
				continue
			}
			trusted := env(s, "TICKETVELO_TRUSTED_PROXIES")
			if trusted != ip.String()+"/32" {
				t.Errorf("service %s trusts %q, want only the proxy, %s/32", s.Name, trusted, ip)
			}
			if _, ok := s.Networks[netName]; !ok {
				t.Errorf("service %s is not on the proxy's network %s", s.Name, netName)
			}
		}
	}

	conf := ""
	for _, v := range proxy.Volumes {
		if v.Target == "/etc/nginx/nginx.conf" {
			conf = v.Source
		}
	}
	if conf != repoPath("deploy", "nginx.conf") {
		t.Errorf("proxy mounts %q at /etc/nginx/nginx.conf, want deploy/nginx.conf", conf)
	}
	upstreams := nginxUpstreams(t)
	for role, upstream := range map[string]string{"gateway": "gateways", "booker": "bookers"} {
		var want []string
		for _, s := range ticketveloServices(t, true) {
			if s.role == role {
				_, port, _ := net.SplitHostPort(env(s, "TICKETVELO_ADDR"))
				want = append(want, s.Name+":"+port)
			}
		}
		if got := upstreams[upstream]; !slices.Equal(got, want) {
			t.Errorf("nginx upstream %s = %v, want every %s service: %v", upstream, got, role, want)
		}
	}
}

// TestComposeKafka checks the one KRaft node is configured completely: the
// apache/kafka image drops all its defaults once one KAFKA_ variable is set.
func TestComposeKafka(t *testing.T) {
	t.Parallel()
	k := mustService(t, "kafka")
	id, err := base64.RawURLEncoding.DecodeString(env(k, "CLUSTER_ID"))
	if err != nil || len(id) != 16 {
		t.Errorf("CLUSTER_ID %q is not a base64url UUID (16 bytes): %v", env(k, "CLUSTER_ID"), err)
	}
	if roles := strings.Split(env(k, "KAFKA_PROCESS_ROLES"), ","); !slices.Contains(roles, "broker") || !slices.Contains(roles, "controller") {
		t.Errorf("KAFKA_PROCESS_ROLES = %q, want broker and controller on the one node", env(k, "KAFKA_PROCESS_ROLES"))
	}
	if voters := env(k, "KAFKA_CONTROLLER_QUORUM_VOTERS"); !strings.HasPrefix(voters, env(k, "KAFKA_NODE_ID")+"@") || !strings.HasSuffix(voters, ":9093") {
		t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS = %q, want node %s on the controller listener :9093", voters, env(k, "KAFKA_NODE_ID"))
	}
	if got := env(k, "KAFKA_ADVERTISED_LISTENERS"); got != "PLAINTEXT://kafka:9092" {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS = %q, want PLAINTEXT://kafka:9092, reachable from the other containers", got)
	}
	for _, name := range []string{"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"} {
		if env(k, name) != "1" {
			t.Errorf("%s = %q, want 1 on a one-node cluster (more never becomes available)", name, env(k, name))
		}
	}
	var logsOnVolume bool
	for _, v := range k.Volumes {
		logsOnVolume = logsOnVolume || (v.Type == types.VolumeTypeVolume && v.Target == env(k, "KAFKA_LOG_DIRS"))
	}
	if !logsOnVolume {
		t.Errorf("KAFKA_LOG_DIRS %q is not on a named volume: the outbox's events would not survive a restart", env(k, "KAFKA_LOG_DIRS"))
	}
}

// checkMailpitTLS checks the notifier can deliver to Mailpit: it speaks
// STARTTLS to any SMTP server off loopback (notifier/smtp.go), so Mailpit
// must offer it, with a certificate the notifier trusts, for the name in
// SMTP_URL.
func checkMailpitTLS(t *testing.T, notifier, mailpit service) {
	t.Helper()
	u, err := url.Parse(env(notifier, "SMTP_URL"))
	if err != nil || u.Scheme != "smtp" || u.Hostname() != mailpit.Name || u.Port() != "1025" || u.User != nil {
		t.Errorf("service %s: SMTP_URL = %q, want smtp://mailpit:1025 (Mailpit's SMTP port, no credentials)", notifier.Name, env(notifier, "SMTP_URL"))
	}
	serverCert, ok1 := hostPath(mailpit, env(mailpit, "MP_SMTP_TLS_CERT"))
	serverKey, ok2 := hostPath(mailpit, env(mailpit, "MP_SMTP_TLS_KEY"))
	trusted, ok3 := hostPath(notifier, env(notifier, "SSL_CERT_FILE"))
	if !ok1 || !ok2 {
		t.Errorf("mailpit: MP_SMTP_TLS_CERT %q and MP_SMTP_TLS_KEY %q must be files mounted from the repository: the notifier requires STARTTLS",
			env(mailpit, "MP_SMTP_TLS_CERT"), env(mailpit, "MP_SMTP_TLS_KEY"))
		return
	}
	if env(mailpit, "MP_SMTP_REQUIRE_STARTTLS") != "true" {
		t.Error("mailpit should require STARTTLS, so a client that would send in clear fails at once")
	}
	if !ok3 || trusted != serverCert {
		t.Errorf("notifier trusts %q (SSL_CERT_FILE %q), want Mailpit's certificate %s", trusted, env(notifier, "SSL_CERT_FILE"), serverCert)
	}
	if serverCert != repoPath("deploy", "mailpit", "tls.crt") || serverKey != repoPath("deploy", "mailpit", "tls.key") {
		t.Errorf("Mailpit serves %s and %s; TestMailpitCertificate checks deploy/mailpit/tls.{crt,key}", serverCert, serverKey)
	}
}

// TestReadmeStoresMatchCompose checks the README's way of running only the
// stores with Docker (`docker compose up -d postgres redis`, then
// DATABASE_URL and REDIS_URL) points at the ports this file publishes, with
// its user, password and database.
func TestReadmeStoresMatchCompose(t *testing.T) {
	t.Parallel()
	readme := string(readFile(t, "README.md"))
	if !strings.Contains(readme, "docker compose up -d postgres redis") {
		t.Skip("README.md no longer runs the stores alone with Docker")
	}
	published := func(s service, target uint32) string {
		for _, p := range s.Ports {
			if p.Target == target {
				return p.Published
			}
		}
		t.Errorf("service %s publishes no port for %d", s.Name, target)
		return ""
	}
	pg, redis := mustService(t, "postgres"), mustService(t, "redis")
	m := regexp.MustCompile("DATABASE_URL=(postgres://[^`\\s]+)").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md gives no DATABASE_URL for the compose stores")
	}
	db, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	password, _ := db.User.Password()
	if db.Hostname() != "127.0.0.1" || db.Port() != published(pg, 5432) || db.User.Username() != env(pg, "POSTGRES_USER") ||
		password != env(pg, "POSTGRES_PASSWORD") || strings.TrimPrefix(db.Path, "/") != env(pg, "POSTGRES_DB") {
		t.Errorf("README.md's DATABASE_URL %s does not reach the postgres service (127.0.0.1:%s, user %s, database %s)",
			db.Redacted(), published(pg, 5432), env(pg, "POSTGRES_USER"), env(pg, "POSTGRES_DB"))
	}
	m = regexp.MustCompile("REDIS_URL=(redis://[^`\\s]+)").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md gives no REDIS_URL for the compose stores")
	}
	if r, err := url.Parse(m[1]); err != nil || r.Hostname() != "127.0.0.1" || r.Port() != published(redis, 6379) {
		t.Errorf("README.md's REDIS_URL %s does not reach the redis service on 127.0.0.1:%s", m[1], published(redis, 6379))
	}
}
