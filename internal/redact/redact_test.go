package redact_test

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

func TestURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"postgres://u:secret@127.0.0.1:5432/x?sslmode=disable", "postgres://u:xxxxx@127.0.0.1:5432/x?sslmode=disable"},
		{"redis://:secret@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"smtps://user%40example.com:se%2Fcret@mail:465", "smtps://user%40example.com:xxxxx@mail:465"},
		{"postgres://u:secret/x@127.0.0.1/x", "postgres://u:xxxxx@127.0.0.1/x"},       // does not parse
		{"postgres://u:secret@127.0.0.1:bad/x", "postgres://u:xxxxx@127.0.0.1:bad/x"}, // does not parse
		{"postgres://u@127.0.0.1/x?sslmode=disable&password=secret", "postgres://u@127.0.0.1/x?sslmode=disable&password=xxxxx"},
		{"host=db user=u password='se cret' sslpassword=secret", "host=db user=u password=xxxxx sslpassword=xxxxx"},
		{"u:secret@kafka:9092", "u:xxxxx@kafka:9092"},
		{"postgres://postgres@127.0.0.1:5432/ticketvelo", "postgres://postgres@127.0.0.1:5432/ticketvelo"},
		{"redis://127.0.0.1:6379/0?x=a@b", "redis://127.0.0.1:6379/0?x=a@b"},
		{"", ""},
	}
	for _, c := range cases {
		if got := redact.URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestError: a library's error that quotes the URL, in any form, loses the
// secret and keeps its cause.
func TestError(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"postgres://u:secret@127.0.0.1:bad/x",
		"postgres://u:secret%zz@h/x",
		`postgres://u:sec"ret@h:bad/x`,
		"smtp://u:se%63ret@h:bad",
		"postgres://u@h/x?password=secret",
	} {
		_, parseErr := url.Parse(raw)
		if parseErr == nil {
			parseErr = fmt.Errorf("connecting with %s", raw)
		}
		for _, err := range []error{parseErr, fmt.Errorf("wrapped: %w", parseErr), fmt.Errorf("%w: %s", io.EOF, raw)} {
			got := redact.Error(err, raw)
			if s := got.Error(); strings.Contains(s, "secret") || strings.Contains(s, `sec\"ret`) || strings.Contains(s, "se%63ret") {
				t.Errorf("Error(%q) = %q: the secret is still there", err, s)
			}
			if !errors.Is(got, err) {
				t.Errorf("Error(%q) lost its cause", err)
			}
		}
	}
	plain := errors.New("connection refused")
	if got := redact.Error(plain, "postgres://u:secret@h/x"); got != plain {
		t.Errorf("an error without a secret came back as %v, want itself", got)
	}
	if redact.Error(nil, "x") != nil {
		t.Error("Error(nil) is not nil")
	}
}

func TestParseError(t *testing.T) {
	t.Parallel()
	cases := []struct{ raw, want string }{
		{"postgres://u:secret/x@h/x", "cannot parse it: percent-encode any of / ? # @ : % in the user name or password"},
		{"postgres://u:secret%zz@h/x", "cannot parse it: percent-encode any of / ? # @ : % in the user name or password"},
		{"smtp://u:secret@h:bad", "cannot parse it: percent-encode any of / ? # @ : % in the user name or password"},
		{"postgres://h:bad/x", `invalid port ":bad" after host`}, // no secret: url.Parse's cause
	}
	for _, c := range cases {
		_, err := url.Parse(c.raw)
		if got := redact.ParseError(err, c.raw).Error(); got != c.want {
			t.Errorf("ParseError about %q = %q, want %q", c.raw, got, c.want)
		}
	}
}
