package edgebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/proc"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// child is a process of this program that edgebench measures: the bare
// baseline, the gateway or the booker, each serving HTTP on its own port.
type child struct {
	*proc.Process
	pprofAddr string            // of its net/http/pprof, "" when not profiling
	api       *apiclient.Client // at its address
}

// startChild starts this program's command with env added to the
// environment, listening on a free loopback port, and waits until it
// answers GET /readyz with 200.
func startChild(ctx context.Context, exe, dir, command string, env []string, pprof bool) (*child, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	c := &child{}
	if pprof {
		if c.pprofAddr, err = proc.FreeAddr(); err != nil {
			return nil, err
		}
	}
	env = append(env, "TICKETVELO_ADDR="+addr, "TICKETVELO_PPROF_ADDR="+c.pprofAddr)
	c.Process = &proc.Process{Name: command, Exe: exe, Args: []string{command}, Env: env, Addr: addr,
		Ready: proc.AnswersOK("http://" + addr + "/readyz"), LogPath: filepath.Join(dir, command+".log"), ReadyWithin: time.Minute}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// stop asks the child to shut down as an operator would (SIGTERM) and kills
// it if it has not within 15 s.
func (c *child) stop() { c.Term(15 * time.Second) }

// cpu is the child's user and system CPU time so far.
func (c *child) cpu() (time.Duration, error) { return procCPU(c.Pid()) }

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
