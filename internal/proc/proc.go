// Package proc runs the long-lived child processes of the benchmark and
// drill commands: this program's services, the broker, nginx. A Process
// keeps its address, arguments and environment across restarts, so what
// talks to it finds it again where it was.
package proc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ChildAttr keeps a child process out of the terminal's process group, so
// Ctrl-C reaches the parent alone and it stops its children in order, and
// has the child killed should the parent die without cleaning up.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Process is one child process and how to tell it is ready.
type Process struct {
	Name    string
	Exe     string
	Args    []string
	Env     []string // added to this process's environment
	Addr    string   // host:port it listens on
	Ready   func(ctx context.Context) error
	LogPath string // its stdout and stderr, appended to across restarts
	// ReadyWithin bounds the wait for Ready; 0 is a minute and a half.
	ReadyWithin time.Duration

	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs the process and waits until it is ready; if it does not get
// ready, it is killed.
func (p *Process) Start(ctx context.Context) error {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	defer logFile.Close() // the child has its own descriptor
	p.cmd = exec.Command(p.Exe, p.Args...)
	p.cmd.Env = append(os.Environ(), p.Env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = ChildAttr()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(p.cmd)
	within := p.ReadyWithin
	if within == 0 {
		within = 90 * time.Second
	}
	if err := p.waitReady(ctx, within); err != nil {
		p.Kill()
		return err
	}
	return nil
}

func (p *Process) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := p.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", p.Name, p.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v\n%s", p.Name, within, err, p.LogTail())
		}
	}
}

// Running says whether the process is up: started and not exited.
func (p *Process) Running() bool {
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

// Kill stops the process at once (SIGKILL), as a crash would, and waits
// for it to go.
func (p *Process) Kill() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Term asks the process to stop as an operator would (SIGTERM) and kills it
// if it has not within grace.
func (p *Process) Term(grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// Pid is the process's id, 0 when it is not running.
func (p *Process) Pid() int {
	if !p.Running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// LogTail is the end of the process's log, for error messages.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b[max(0, len(b)-2000):])
}

// AnswersOK is ready when GET url answers 200 (a service's /readyz).
func AnswersOK(url string) func(ctx context.Context) error {
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
			return fmt.Errorf("%s answered %d", url, res.StatusCode)
		}
		return nil
	}
}

// Listening is ready when addr accepts a TCP connection.
func Listening(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// FreeAddr is a loopback address that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
