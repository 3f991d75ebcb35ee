package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// userCreateCommand makes an account from the command line, the only way to
// make an ops account.
func userCreateCommand(fs *flag.FlagSet) mainFunc {
	email := fs.String("email", "", "the account's email address")
	name := fs.String("name", "", "the account's display name")
	password := fs.String("password", "", "the account's password (or env TICKETVELO_USER_PASSWORD, which stays out of the process list)")
	role := fs.String("role", tokens.RoleFan, "fan or ops")
	return func(ctx context.Context, e env, cfg config.Config) error {
		pw := *password
		if pw == "" {
			pw = e.getenv("TICKETVELO_USER_PASSWORD")
		}
		if *email == "" || pw == "" {
			return errors.New("--email and --password (or TICKETVELO_USER_PASSWORD) are required")
		}
		if *name == "" {
			*name = *email
		}
		users, done, err := openUsers(ctx, e, cfg)
		if err != nil {
			return err
		}
		defer done()
		u, err := users.Create(ctx, identity.Registration{Email: *email, Password: pw, Name: *name}, *role)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created %s account %d for %s\n", u.Role, u.ID, u.Email)
		return nil
	}
}

// userRoleCommand gives an existing account another role, e.g. demotes an
// ops account. Gateways apply it to ops routes within their role cache's
// TTL (TICKETVELO_ROLE_CACHE_TTL), whatever the account's tokens say.
func userRoleCommand(fs *flag.FlagSet) mainFunc {
	email := fs.String("email", "", "the account's email address")
	role := fs.String("role", "", "the new role: fan or ops")
	return func(ctx context.Context, e env, cfg config.Config) error {
		if *email == "" || *role == "" {
			return errors.New("--email and --role are required")
		}
		users, done, err := openUsers(ctx, e, cfg)
		if err != nil {
			return err
		}
		defer done()
		u, err := users.SetRole(ctx, *email, *role)
		if err != nil {
			return fmt.Errorf("setting the role of %s: %w", *email, err)
		}
		fmt.Fprintf(e.stdout, "account %d %s is now %s; gateways apply it to ops routes within TICKETVELO_ROLE_CACHE_TTL\n", u.ID, u.Email, u.Role)
		return nil
	}
}

// openUsers opens the accounts store of the commands that manage accounts;
// done closes what it opened.
func openUsers(ctx context.Context, e env, cfg config.Config) (users *identity.Store, done func(), err error) {
	d := newDeps(e, cfg)
	if err := d.open(ctx, needs{postgres: true}); err != nil {
		d.close()
		return nil, nil, err
	}
	users, err = identity.NewStore(d.pool, identity.DefaultParams, identity.HashLimits{})
	if err != nil {
		d.close()
		return nil, nil, err
	}
	return users, d.close, nil
}
