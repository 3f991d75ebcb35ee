package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// Binder registers flags whose defaults come from the environment: each
// setting is a flag named in -h with its variable, the variable's value
// when set, and the flag on the command line over both. Every Config,
// shared or a service's, binds its fields through one Binder of the
// command, so -h lists them all.
//
// A variable that does not parse is not an error at once: Err reports it
// after the flags are parsed, unless its flag was given, since a flag on
// the command line replaces a broken variable.
type Binder struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []bindErr
	set    map[string]bool // flags given on the command line
	bound  map[boundKey]bool
}

type bindErr struct {
	flag string
	err  error
}

// boundKey is a bound value: its address and type (a struct and its first
// field share the address).
type boundKey struct {
	addr unsafe.Pointer
	typ  reflect.Type
}

// NewBinder returns a Binder registering flags on fs, reading variables
// with getenv.
func NewBinder(fs *flag.FlagSet, getenv func(string) string) *Binder {
	return &Binder{fs: fs, getenv: getenv, set: map[string]bool{}, bound: map[boundKey]bool{}}
}

// Err is the first variable that did not parse and whose flag was not
// given; call it after the flag set is parsed.
func (b *Binder) Err() error {
	for _, e := range b.errs {
		if !b.set[e.flag] {
			return e.err
		}
	}
	return nil
}

// Unbound lists the fields of the struct cfg points to, by path, that no
// flag of b sets; it walks into nested structs that are not bound whole
// (a RateLimit is). Tests call it so that a setting added to a Config
// without a flag fails.
func (b *Binder) Unbound(cfg any) []string {
	var out []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if b.bound[boundKey{v.Addr().UnsafePointer(), v.Type()}] {
			return
		}
		if v.Kind() != reflect.Struct {
			out = append(out, path)
			return
		}
		for i := range v.NumField() {
			walk(v.Field(i), strings.TrimPrefix(path+"."+v.Type().Field(i).Name, "."))
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return out
}

// Str binds a string.
func (b *Binder) Str(p *string, name, env, help string) {
	if v, ok := b.env(env); ok {
		*p = v
	}
	b.bind(p, name, b.usage(help, env)+defaultNote(*p), func(s string) error { *p = s; return nil })
}

// URL is Str for a URL that may hold a password: the help shows its
// default (the environment's value) with the password masked.
func (b *Binder) URL(p *string, name, env, help string) {
	if v, ok := b.env(env); ok {
		*p = v
	}
	b.bind(p, name, b.usage(help, env)+defaultNote(redact.URL(*p)), func(s string) error { *p = s; return nil })
}

// List binds a comma-separated list.
func (b *Binder) List(p *[]string, name, env, help string) {
	if v, ok := b.env(env); ok {
		*p = splitList(v)
	}
	b.bind(p, name, b.usage(help, env), func(s string) error { *p = splitList(s); return nil })
}

// Int binds an integer.
func (b *Binder) Int(p *int, name, env, help string) {
	parse := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("expected an integer")
		}
		return n, nil
	}
	bindParsed(b, p, name, env, help, "an integer", strconv.Itoa, parse)
}

// Float binds a decimal number.
func (b *Binder) Float(p *float64, name, env, help string) {
	parse := func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, errors.New("expected a number")
		}
		return f, nil
	}
	show := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	bindParsed(b, p, name, env, help, "a number", show, parse)
}

// Duration binds a duration such as 500ms.
func (b *Binder) Duration(p *time.Duration, name, env, help string) {
	parse := func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errors.New("expected a duration such as 500ms or 10s")
		}
		return d, nil
	}
	bindParsed(b, p, name, env, help, "a duration such as 500ms or 10s", time.Duration.String, parse)
}

// RateLimit binds a limit written as N/duration or off.
func (b *Binder) RateLimit(p *RateLimit, name, env, help string) {
	bindParsed(b, p, name, env, help, "N/duration such as 20/1m, or off", RateLimit.String, ParseRateLimit)
}

// Bool binds a boolean flag (-name alone sets it).
func (b *Binder) Bool(p *bool, name, env, help string) {
	if v, ok := b.env(env); ok {
		t, err := strconv.ParseBool(v)
		if err != nil {
			b.fail(name, env, "true or false", v)
		}
		*p = t
	}
	b.record(p)
	b.fs.BoolFunc(name, b.usage(help, env)+defaultNote(strconv.FormatBool(*p)), b.track(name, func(s string) error {
		t, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("expected true or false")
		}
		*p = t
		return nil
	}))
}

// CIDRs binds comma-separated CIDRs; a bare address is one host.
func (b *Binder) CIDRs(p *[]*net.IPNet, name, env, help string) {
	if v, ok := b.env(env); ok {
		nets, err := parseCIDRs(v)
		if err != nil {
			b.fail(name, env, "comma-separated CIDRs such as 10.0.0.0/8", v)
		}
		*p = nets
	}
	b.bind(p, name, b.usage(help, env), func(s string) error {
		nets, err := parseCIDRs(s)
		if err != nil {
			return errors.New("expected comma-separated CIDRs such as 10.0.0.0/8")
		}
		*p = nets
		return nil
	})
}

// bindParsed binds a value that parse reads and show writes in -h. A
// variable that does not parse sets the zero value and is reported by Err
// as "expected want".
func bindParsed[T any](b *Binder, p *T, name, env, help, want string, show func(T) string, parse func(string) (T, error)) {
	if v, ok := b.env(env); ok {
		t, err := parse(v)
		if err != nil {
			b.fail(name, env, want, v)
		}
		*p = t
	}
	b.bind(p, name, b.usage(help, env)+defaultNote(show(*p)), func(s string) error {
		t, err := parse(s)
		if err != nil {
			return err
		}
		*p = t
		return nil
	})
}

func (b *Binder) bind(p any, name, usage string, set func(string) error) {
	b.record(p)
	b.fs.Func(name, usage, b.track(name, set))
}

func (b *Binder) record(p any) {
	v := reflect.ValueOf(p)
	b.bound[boundKey{v.UnsafePointer(), v.Type().Elem()}] = true
}

func (b *Binder) env(env string) (string, bool) {
	v := b.getenv(env)
	return v, v != ""
}

func (b *Binder) fail(flagName, env, want, got string) {
	b.errs = append(b.errs, bindErr{flagName, fmt.Errorf("%s: expected %s, got %q", env, want, got)})
}

func (b *Binder) usage(help, env string) string { return fmt.Sprintf("%s (env %s)", help, env) }

func (b *Binder) track(name string, set func(string) error) func(string) error {
	return func(s string) error {
		b.set[name] = true
		return set(s)
	}
}

func parseCIDRs(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, item := range splitList(s) {
		if !strings.Contains(item, "/") {
			if strings.Contains(item, ":") {
				item += "/128"
			} else {
				item += "/32"
			}
		}
		_, n, err := net.ParseCIDR(item)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func defaultNote(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(" (default %q)", v)
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
