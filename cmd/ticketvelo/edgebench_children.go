package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process of this program that edgebench measures: the bare
// baseline, the gateway or the booker, each serving HTTP on its own port.
type child struct {
	name      string
	addr      string // host:port of its HTTP listener
	pprofAddr string // of its net/http/pprof, "" when not profiling
	logPath   string // its stderr
	cmd       *exec.Cmd
	exited    chan struct{}
}

// startChild starts this program's command with env added to the
// environment, listening on a free loopback port, and waits until it
// answers GET /readyz with 200.
func startChild(ctx context.Context, dir, command string, env []string, pprof bool) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &child{name: command, logPath: filepath.Join(dir, command+".log"), exited: make(chan struct{})}
	if c.addr, err = freeAddr(); err != nil {
		return nil, err
	}
	if pprof {
		if c.pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	env = append(env, "TICKETVELO_ADDR="+c.addr, "TICKETVELO_PPROF_ADDR="+c.pprofAddr)
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	c.cmd = exec.Command(exe, command)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = childProcAttr()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", command, err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(ctx, time.Minute); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func freeAddr() (string, error) {
	port, err := freePort()
	return "127.0.0.1:" + port, err
}

func (c *child) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		res, err := client.Get("http://" + c.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz answered %d", res.StatusCode)
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", c.name, c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v\n%s", c.name, within, err, c.logTail())
		}
	}
}

// logTail is the end of the child's log, for error messages.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stop asks the child to shut down as an operator would (SIGTERM) and kills
// it if it has not within 15 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// cpu is the child's user and system CPU time so far.
func (c *child) cpu() (time.Duration, error) { return procCPU(c.cmd.Process.Pid) }

// procCPU is a process's user and system CPU time so far, all threads, from
// /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading a process's CPU time (edgebench needs Linux's /proc): %w", err)
	}
	return parseProcStat(b)
}

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on every Linux
// architecture Go runs on.
const userHZ = 100

// parseProcStat reads utime and stime, fields 14 and 15 of
// /proc/<pid>/stat (proc(5)), counted after the command name, which is in
// parentheses and may hold spaces.
func parseProcStat(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/<pid>/stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/<pid>/stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/<pid>/stat: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}
