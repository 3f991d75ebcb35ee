package proc_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/proc"
)

func TestStartKillAndStartAgain(t *testing.T) {
	round := 0
	p := &proc.Process{Name: "sleeper", Exe: "sh", Args: []string{"-c", "echo up; exec sleep 30"},
		LogPath: filepath.Join(t.TempDir(), "sleeper.log")}
	// Ready once this run has written its line, after the last run's.
	p.Ready = func(context.Context) error {
		if strings.Count(p.LogTail(), "up\n") < round {
			return errors.New("not up yet")
		}
		return nil
	}
	t.Cleanup(p.Kill)
	ctx := context.Background()
	for round = 1; round <= 2; round++ {
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if !p.Running() || p.Pid() == 0 {
			t.Fatalf("round %d: running %v, pid %d; want running", round, p.Running(), p.Pid())
		}
		p.Kill()
		if p.Running() || p.Pid() != 0 {
			t.Fatalf("round %d: still running after Kill", round)
		}
	}
	// Both runs wrote to the one log.
	if got := strings.Count(p.LogTail(), "up\n"); got != 2 {
		t.Errorf("log has %d lines of the two runs, want 2: %q", got, p.LogTail())
	}
}

func TestTermStopsAndExitBeforeReadyFails(t *testing.T) {
	dir := t.TempDir()
	p := &proc.Process{Name: "sleeper", Exe: "sleep", Args: []string{"30"}, LogPath: filepath.Join(dir, "s.log"),
		Ready: func(context.Context) error { return nil }}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Term(10 * time.Second)
	if p.Running() || time.Since(start) > 5*time.Second {
		t.Errorf("Term: running %v after %s; want stopped at once", p.Running(), time.Since(start))
	}
	dies := &proc.Process{Name: "dies", Exe: "sh", Args: []string{"-c", "echo broken config; exit 3"}, LogPath: filepath.Join(dir, "d.log"),
		Ready: func(context.Context) error { return errors.New("not yet") }}
	err := dies.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "broken config") {
		t.Errorf("got %v, want an error with the log's tail", err)
	}
}
