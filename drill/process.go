package drill

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one long-running process of the topology: a service of the
// ticketvelo binary, the broker, or a tool such as nginx. It keeps its
// address, arguments and environment across restarts, so the proxy and the
// other services find it again where it was.
type process struct {
	name    string
	exe     string
	args    []string
	env     []string
	addr    string // host:port it listens on
	ready   func(ctx context.Context) error
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
}

// start runs the process and waits until it is ready.
func (p *process) start(ctx context.Context) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(p.exe, p.args...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// Out of the terminal's process group, so Ctrl-C reaches the drill
	// alone and it stops them in order; killed should the drill die first.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(p.cmd)
	if err := p.waitReady(ctx, 90*time.Second); err != nil {
		p.kill()
		return err
	}
	return nil
}

func (p *process) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := p.ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", p.name, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v\n%s", p.name, within, err, p.logTail())
		}
	}
}

// running says whether the process is up (started and not exited).
func (p *process) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill stops the process at once (SIGKILL), as a crash would.
func (p *process) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// term asks the process to stop as an operator would (SIGTERM) and kills it
// if it has not within 20 s.
func (p *process) term() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

func (p *process) pid() int {
	if !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// logTail is the end of the process's log, for error messages.
func (p *process) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b[max(0, len(b)-2000):])
}

// answersOK is ready when GET url answers 200 (a service's /readyz).
func answersOK(url string) func(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz answered %d", res.StatusCode)
		}
		return nil
	}
}

// listening is ready when addr accepts a TCP connection.
func listening(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// freeAddr is a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// newService is a process of the ticketvelo binary running command, with
// its own listener and data directory under dir.
func newService(exe, dir, name, command string, env []string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	env = append(append([]string(nil), env...), "TICKETVELO_ADDR="+addr, "TICKETVELO_DATA_DIR="+data)
	return &process{name: name, exe: exe, args: []string{command}, env: env, addr: addr, ready: answersOK("http://" + addr + "/readyz"),
		logPath: filepath.Join(dir, name+".log")}, nil
}
