package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/notifier"
)

// dlqReplayCommand puts the booking events dead-lettered since the last
// replay back on booking.events, once the cause is mended.
func dlqReplayCommand(fs *flag.FlagSet) mainFunc {
	dryRun := fs.Bool("dry-run", false, "list the dead letters a replay would put back, and change nothing")
	return func(ctx context.Context, e env, cfg config.Config) error {
		d := newDeps(e, cfg)
		defer d.close()
		if err := d.open(ctx, needs{postgres: true}); err != nil {
			return err
		}
		// A running system's broker: KAFKA_BROKERS, or the embedded one
		// that `ticketvelo all` starts.
		brokers := cfg.KafkaBrokers
		if len(brokers) == 0 {
			brokers = []string{cfg.BrokerAddr}
		}
		letters, err := notifier.Replay(ctx, d.pool, brokers, *dryRun)
		if len(letters) > 0 {
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DLQ\tORDER\tKIND\tREASON\tFAILED AT\tERROR")
			for _, l := range letters {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.80s\n", l.Source, orDash(l.OrderID), orDash(l.Kind), l.Reason, l.FailedAt, l.Error)
			}
			w.Flush()
		}
		switch {
		case err != nil:
			return err
		case *dryRun:
			fmt.Fprintf(e.stdout, "%d dead letters to replay (dry run: nothing changed)\n", len(letters))
		default:
			fmt.Fprintf(e.stdout, "put %d dead letters back on booking.events\n", len(letters))
		}
		return nil
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
