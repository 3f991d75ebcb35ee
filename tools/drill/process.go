package drill

import (
	"os"
	"path/filepath"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/proc"
)

// termGrace is how long a service may take to stop on SIGTERM (its
// shutdown timeout is 10 s) before it is killed.
const termGrace = 20 * time.Second

// newService is a process of the ticketvelo binary running command, with
// its own listener and data directory under dir.
func newService(exe, dir, name, command string, env []string) (*proc.Process, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	env = append(append([]string(nil), env...), "TICKETVELO_ADDR="+addr, "TICKETVELO_DATA_DIR="+data)
	return &proc.Process{Name: name, Exe: exe, Args: []string{command}, Env: env, Addr: addr,
		Ready: proc.AnswersOK("http://" + addr + "/readyz"), LogPath: filepath.Join(dir, name+".log")}, nil
}
