package textfield_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

func TestClean(t *testing.T) {
	t.Parallel()
	good := []struct{ in, want string }{
		{"Ana", "Ana"},
		{"  Zoë Ünal ", "Zoë Ünal"},
		{"Ana\r\n", "Ana"}, // pasted with its line end
		{"Aurora Skies — World Tour 🎫", "Aurora Skies — World Tour 🎫"},
		{"👨‍👩‍👧 family", "👨‍👩‍👧 family"}, // zero-width joiners are not controls
		{"עברית and English", "עברית and English"},
		{strings.Repeat("é", 10), strings.Repeat("é", 10)},
	}
	for _, c := range good {
		got, err := textfield.Clean("name", c.in, 10+len(c.in))
		if err != nil || got != c.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", "   ", "\t\n", "a\x00b", "a\r\nBcc: x@example.com", "a\nb", "a\rb", "a\tb", "a\x1bb", "a\x7fb",
		"a\u0085b", "a\u2028b", "a\u2029b", "a\u202eb", "a\u2066b", "a\xffb", "\xc3", "a\ufffdb", "\u200b", "\u200d\u200b", strings.Repeat("é", 11),
	}
	for _, in := range bad {
		_, err := textfield.Clean("name", in, 10)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.Invalid || e.Code != "invalid_field" || e.Details["field"] != "name" {
			t.Errorf("Clean(%q): got %v, want invalid_field on name", in, err)
		}
	}
}
