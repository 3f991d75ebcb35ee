package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/proc"
)

// postgres is the drill's database: a PostgreSQL of its own (initdb and
// pg_ctl, which the restart fault needs), or a scratch database on a shared
// server when that cannot be had.
type postgres struct {
	url  string
	own  bool
	why  string // why it is not the drill's own, when it is not
	data string // the data directory of its own server
	log  string // its log; pg_ctl must be given it on every start
	port string
	bin  string // where initdb and pg_ctl are
	// runAs is the unprivileged user the server runs as when the drill is
	// root: initdb and postgres refuse to run as root.
	runAs string
	close func()
}

// openPostgres starts a PostgreSQL of the drill's own under dir, or, when
// that cannot work, makes a scratch database on the server sharedURL
// reaches and says why.
func openPostgres(ctx context.Context, dir, sharedURL string) (*postgres, error) {
	p, err := startOwnPostgres(ctx, dir)
	if err == nil {
		return p, nil
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	url, name, uerr := database.WithName(sharedURL, func(n string) string { return n + "_drill_" + hex.EncodeToString(suffix) })
	if uerr != nil {
		return nil, errors.Join(err, uerr)
	}
	return &postgres{url: url, why: err.Error(), close: func() { _ = database.Drop(url, name) }}, nil
}

func startOwnPostgres(ctx context.Context, dir string) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &postgres{own: true, bin: bin, port: addr[strings.LastIndexByte(addr, ':')+1:]}
	base := filepath.Join(dir, "postgres")
	p.data = filepath.Join(base, "data")
	p.log = filepath.Join(base, "postgres.log")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := p.giveTo(base, "nobody"); err != nil {
			return nil, err
		}
	}
	if out, err := p.run(ctx, "initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	opts := "-p " + p.port + " -c listen_addresses=127.0.0.1 -k " + p.data +
		" -c max_connections=300 -c fsync=off -c full_page_writes=off"
	if out, err := p.run(ctx, "pg_ctl", "-D", p.data, "-l", p.log, "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return nil, fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	p.url = "postgres://postgres@127.0.0.1:" + p.port + "/ticketvelo?sslmode=disable"
	p.close = func() {
		_, _ = p.run(context.Background(), "pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop")
	}
	return p, nil
}

// postgresBin finds initdb on PATH or in Debian's /usr/lib/postgresql/N/bin,
// the newest first.
func postgresBin() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if len(dirs) == 0 {
		return "", errors.New("initdb is not on PATH nor in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(dirs[0]), nil
}

func versionOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// giveTo makes dir the user's, who will run the server.
func (p *postgres) giveTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("PostgreSQL refuses to run as root and there is no user %q to run it: %w", name, err)
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		return errors.New("PostgreSQL refuses to run as root and runuser is not on PATH")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	p.runAs = name
	return nil
}

// run runs one of the server's tools, as the unprivileged user if there is
// one.
func (p *postgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, tool)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if p.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// restart is `pg_ctl restart -m fast`: every connection is cut, the server
// is down for a moment and comes back.
func (p *postgres) restart(ctx context.Context) error {
	if !p.own {
		return errors.New("not the drill's own PostgreSQL")
	}
	if out, err := p.run(ctx, "pg_ctl", "-D", p.data, "-l", p.log, "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	return nil
}

// pid is the postmaster's process id, from postmaster.pid.
func (p *postgres) pid() int {
	if !p.own {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(first))
	return n
}
