package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestUserRoleDemotesAndPromotes: 'ticketvelo user role' changes the role
// of an account found by its email, and refuses unknown emails and roles.
func TestUserRoleDemotesAndPromotes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["TICKETVELO_USER_PASSWORD"] = "ops passphrase 1"
	if err := run(context.Background(), []string{"user", "create", "--email", "ops@example.com", "--role", "ops"}, io.Discard, io.Discard, w.getenv); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"fan", "ops"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"user", "role", "--email", "OPS@example.com", "--role", role}, &out, io.Discard, w.getenv); err != nil {
			t.Fatalf("user role %s: %v", role, err)
		}
		if !strings.Contains(out.String(), "ops@example.com is now "+role) {
			t.Fatalf("user role %s printed %q", role, out.String())
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--email", "nobody@example.com", "--role", "fan"}, "not_found"},
		{[]string{"--email", "ops@example.com", "--role", "root"}, "invalid_field"},
		{[]string{"--email", "ops@example.com"}, "--role are required"},
	} {
		err := run(context.Background(), append([]string{"user", "role"}, c.args...), io.Discard, io.Discard, w.getenv)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("user role %v: got %v, want an error with %q", c.args, err, c.want)
		}
	}
}
