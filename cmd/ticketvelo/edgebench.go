package main

import (
	"context"
	"flag"
	"os"
	"strings"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/tools/edgebench"
)

// edgebenchCommand measures the drop-day edge from outside with wrk
// (edgebench.Run): the real gateway and booker, and the bare baseline,
// each a child process of this program.
func edgebenchCommand(fs *flag.FlagSet) mainFunc {
	o := edgebench.Defaults()
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds in which the targets take turns")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time of each target in each round, whole seconds (wrk -d)")
	fs.IntVar(&o.Conns, "conns", o.Conns, "wrk connections (-c), each with one request at a time")
	fs.IntVar(&o.Threads, "threads", o.Threads, "wrk threads (-t)")
	fs.IntVar(&o.JoinRate, "join-rate", o.JoinRate, "joins per second to sign tokens for: each join target gets duration × this many new fans per round; a run that uses them all up fails")
	fs.IntVar(&o.Crowd, "crowd", o.Crowd, "fans who join, unmeasured, behind the 64 at the front before anything is measured, so every measured join and far poll is at least this deep")
	fs.StringVar(&o.Targets, "targets", "", "comma-separated targets to run, of "+strings.Join(edgebench.TargetKeys(), ", ")+" (default all; poll-far and bare-far need join-seen)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "directory to write a CPU profile of the answering process into, per target and round (<target>-r<round>.pprof, taken through the child's TICKETVELO_PPROF_ADDR on loopback)")
	return func(ctx context.Context, e env, cfg config.Config) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Exe, o.Stores = exe, scratchStores(cfg)
		return edgebench.Run(ctx, o, e.stdout)
	}
}
