package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	groups  int // the shared config groups its flags come from
	runs    int // the services it runs, whose Configs' flags it has too
	// hidden leaves it out of the list of commands: it is started by
	// another command, not by people.
	hidden bool
	// bind registers the command's own flags and returns its main, which
	// reads them and, for a command that runs services, their Configs in
	// the stack it is given (bound to flags already).
	bind bindFunc
}

type (
	bindFunc func(fs *flag.FlagSet, s *stack) mainFunc
	mainFunc func(ctx context.Context, e env, cfg config.Config) error
	// serveFunc is the main of a command that runs services, with their
	// Configs.
	serveFunc func(ctx context.Context, e env, cfg config.Config, s stack) error
)

// noFlags is bind for a command with no flags of its own that runs no
// service.
func noFlags(main mainFunc) bindFunc {
	return func(*flag.FlagSet, *stack) mainFunc { return main }
}

// flags is bind for a command with flags of its own that runs no service.
func flags(bind func(*flag.FlagSet) mainFunc) bindFunc {
	return func(fs *flag.FlagSet, _ *stack) mainFunc { return bind(fs) }
}

// serves is bind for a command with no flags of its own that runs
// services.
func serves(main serveFunc) bindFunc {
	return func(_ *flag.FlagSet, s *stack) mainFunc {
		return func(ctx context.Context, e env, cfg config.Config) error { return main(ctx, e, cfg, *s) }
	}
}

var commands []command

func init() {
	commands = []command{
		{name: "all", summary: "run every module in one process: gateway and booker on one listener, the notifier, and the embedded broker when KAFKA_BROKERS is empty", groups: config.Stores | config.Serving | config.Seeding | config.Keys, runs: runsGateway | runsBooker | runsNotifier, bind: serves(runAll)},
		{name: "gateway", summary: "run the public edge: accounts, events, the waiting room and admission", groups: config.Stores | config.Serving | config.Keys, runs: runsGateway, bind: serves(runGateway)},
		{name: "booker", summary: "run the booker: seat map, holds, orders and the outbox relay", groups: config.Stores | config.Serving | config.Keys, runs: runsBooker, bind: serves(runBooker)},
		{name: "notifier", summary: "run the notifier: consume booking events and send confirmation mail", groups: config.Stores | config.Serving | config.Keys, runs: runsNotifier, bind: serves(runNotifier)},
		{name: "broker", summary: "run the embedded Kafka-protocol broker alone", groups: config.Files, bind: flags(brokerCommand)},
		{name: "drop", summary: "simulate a drop against a running TicketVelo (fans queue, hold and buy over HTTP) and check that no seat sold twice", groups: config.Stores | config.Keys, bind: flags(dropCommand)},
		{name: "drill", summary: "run the split topology as local processes (a Redis Cluster with replicas, its own PostgreSQL, the broker, 2 gateways, 2 bookers, 2 notifiers, nginx) and a drop per fault, or a soak (-soak 10m), and check the invariants", groups: config.Stores, bind: flags(drillCommand)},
		{name: "user create", summary: "create an account, e.g. an ops account with --role ops, and exit", groups: config.Stores, bind: flags(userCreateCommand)},
		{name: "user role", summary: "give an existing account another role (--email, --role fan|ops), e.g. to demote an ops account, and exit", groups: config.Stores, bind: flags(userRoleCommand)},
		{name: "loadgen", summary: "benchmark the waiting room on loopback against a bare fasthttp handler (join, poll) and weigh queued fans in Redis, in a scratch database and prefix", groups: config.Stores | config.Serving | config.Keys, runs: runsGateway, bind: loadgenCommand},
		{name: "edgebench", summary: "benchmark the drop-day edge with wrk: the real gateway and booker processes (joins, polls, event page, seat status) against a bare fasthttp process, in a scratch database and a private redis-server", groups: config.Stores, bind: flags(edgebenchCommand)},
		{name: "edgebench-bare", hidden: true, summary: "serve edgebench's baseline, bare fasthttp answering a fixed queue-status body, in a process of its own (edgebench starts it)", groups: config.Serving, bind: noFlags(runBare)},
		{name: "ticket verify", summary: "check a ticket code (--code) offline with the key file's public keys, as a door scanner does", groups: config.Files | config.Keys, bind: flags(ticketVerifyCommand)},
		{name: "dlq replay", summary: "put the booking events dead-lettered since the last replay back on booking.events, once the cause is mended (--dry-run lists them)", groups: config.Stores, bind: flags(dlqReplayCommand)},
		{name: "migrate", summary: "apply database migrations and exit", groups: config.Stores, bind: noFlags(runMigrate)},
		{name: "seed", summary: "seed the demo venues, or with --seats N a venue of N seats, and exit", groups: config.Stores, bind: flags(seedCommand)},
		{name: "healthcheck", summary: "probe a running process's /healthz (or -url) and exit 0 only on 200, for container healthchecks", bind: flags(healthcheckCommand)},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "TicketVelo: a ticketing platform for drop day.")
	fmt.Fprintln(w, "\nUsage: ticketvelo COMMAND [flags]\n\nCommands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nEvery flag can also be set by the environment variable named in its help.")
	fmt.Fprintln(w, "Run 'ticketvelo COMMAND -h' for a command's flags.")
}

// run parses the command's flags over the environment and calls its main.
func (c command) run(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("ticketvelo "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	bc := c.bindFlags(fs, e.getenv)
	// -h prints the usage to stdout; a wrong flag prints its error and the
	// usage to stderr.
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: ticketvelo %s [flags]\n\n%s.\n\nFlags:\n", c.name, capitalise(c.summary))
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(e.stdout)
			return flag.ErrHelp
		}
		usage(e.stderr)
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "ticketvelo %s: unexpected argument %q\n", c.name, fs.Arg(0))
		return errUsage
	}
	if err := bc.validate(c.groups); err != nil {
		return err
	}
	return bc.main(ctx, e, bc.cfg)
}

// boundCommand is a command whose settings are bound to its flags: the
// shared groups, the Configs of the services it runs and its own flags.
type boundCommand struct {
	binder   *config.Binder
	cfg      config.Config
	stack    stack
	services []config.Settings // in stack
	main     mainFunc
}

// bindFlags registers every flag of the command on fs, over the
// environment getenv reads.
func (c command) bindFlags(fs *flag.FlagSet, getenv func(string) string) *boundCommand {
	bc := &boundCommand{binder: config.NewBinder(fs, getenv), cfg: config.Default(), stack: defaultStack()}
	bc.cfg.RegisterFlags(bc.binder, c.groups)
	bc.services = bc.stack.settings(c.runs)
	for _, s := range bc.services {
		s.RegisterFlags(bc.binder)
	}
	bc.main = c.bind(fs, &bc.stack)
	return bc
}

// validate reports the first wrong setting once the flags are parsed: a
// variable that did not parse (and whose flag was not given), then the
// shared groups, then each service's Config.
func (bc *boundCommand) validate(groups int) error {
	if err := bc.binder.Err(); err != nil {
		return err
	}
	if err := bc.cfg.Validate(groups); err != nil {
		return err
	}
	for _, s := range bc.services {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	return nil
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
