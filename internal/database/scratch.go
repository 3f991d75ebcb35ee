package database

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// WithName is the database URL raw with its database renamed by rename, and
// the new name: how the benchmarks and the drill make scratch databases on
// a shared server.
func WithName(raw string, rename func(string) string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := rename(strings.TrimPrefix(u.Path, "/"))
	u.Path = "/" + name
	return u.String(), name, nil
}

// Drop drops database name of the server dbURL reaches, through its
// maintenance database, closing whatever connections are left; a scratch
// database's last step, so a failure is only returned.
func Drop(dbURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, _, err := WithName(dbURL, func(string) string { return "postgres" })
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}
