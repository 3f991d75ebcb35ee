// Command ticketvelo is the one TicketVelo binary: every service, the
// embedded broker and the operator tools are its subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "ticketvelo:", err)
		os.Exit(1)
	}
}

// errUsage means the command line was wrong and usage was already printed.
var errUsage = errors.New("usage")

// env is how the program reads the environment, so tests pass their own.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// run dispatches to a subcommand; it returns when the subcommand ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	e := env{stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) > 0 {
			if c, ok := findCommand(rest[0]); ok {
				return c.run(ctx, e, []string{"-h"})
			}
		}
		usage(stdout)
		return nil
	}
	// A command with a verb, such as "user create", is named by two words.
	if len(rest) > 0 {
		if c, ok := findCommand(name + " " + rest[0]); ok {
			return c.run(ctx, e, rest[1:])
		}
	}
	c, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "ticketvelo: unknown command %q\n\n", name)
		usage(stderr)
		return errUsage
	}
	return c.run(ctx, e, rest)
}
