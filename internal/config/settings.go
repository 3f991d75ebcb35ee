package config

import (
	"flag"
	"io"
)

// Settings is a service's Config: it binds each of its fields to a flag
// and names the variable of the first wrong value. cmd/ticketvelo binds
// the Settings of the services a command runs beside the shared Config.
type Settings interface {
	RegisterFlags(b *Binder)
	Validate() error
}

// Load sets s as a command would, from the variables getenv reads and
// the flags of args, and validates it: for tests and tools that read a
// service's settings without running the command.
func Load(s Settings, getenv func(string) string, args ...string) error {
	fs := flag.NewFlagSet("settings", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	b := NewBinder(fs, getenv)
	s.RegisterFlags(b)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := b.Err(); err != nil {
		return err
	}
	return s.Validate()
}

// LoadFrom is Load of a copy of def (a service's DefaultConfig) from the
// variables of env and the flags of args.
func LoadFrom[C any, P interface {
	*C
	Settings
}](def C, env map[string]string, args ...string) (C, error) {
	c := def
	err := Load(P(&c), func(k string) string { return env[k] }, args...)
	return c, err
}
