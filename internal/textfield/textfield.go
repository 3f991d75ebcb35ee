// Package textfield checks the free text clients send (names of events,
// users and venues) before it is stored or put in a mail. Postgres refuses
// NUL and text that is not UTF-8 with an error that would be a 500, and a
// line break in a name could reach a mail header; so such text is refused
// at the edge with a 422 that names the field.
package textfield

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

// Clean trims raw of surrounding white space and checks what is left is
// UTF-8 of 1 to maxRunes characters with none that Forbidden refuses. Its
// error is an invalid_field naming field.
func Clean(field, raw string, maxRunes int) (string, error) {
	// Trimmed first: a name pasted with a trailing newline is fine.
	s := strings.TrimSpace(raw)
	if err := Check(field, s); err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n == 0 || n > maxRunes {
		return "", Invalid(field, "%s must have 1 to %d characters", field, maxRunes)
	}
	if strings.IndexFunc(s, visible) < 0 {
		// Zero-width spaces and joiners alone read as nothing.
		return "", Invalid(field, "%s must have a character one can see", field)
	}
	return s, nil
}

// visible reports a letter, mark, digit, punctuation or symbol.
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

// Forbidden reports the characters a name must not hold: control
// characters (C0 with NUL, tab, CR and LF; DEL; C1), the Unicode line and
// paragraph separators, and the bidirectional overrides and isolates,
// which can make a name read backwards in a mail subject or the console;
// and U+FFFD, which is what a JSON decoder makes of a lone surrogate
// (`"\ud800"`): text that was not text.
func Forbidden(r rune) bool {
	switch {
	case unicode.IsControl(r), r == utf8.RuneError:
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// Invalid is the invalid_field error of field, with details.field set.
func Invalid(field, format string, args ...any) *apperr.Error {
	return apperr.New(apperr.Invalid, "invalid_field", format, args...).With(map[string]any{"field": field})
}

// Check reports an invalid_field naming field when s, which may be empty,
// is not UTF-8 or holds a character Forbidden refuses. It is for text that
// is optional or that Clean's trimming must not change, such as slugs and
// layout labels.
func Check(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "%s must be UTF-8 text", field)
	}
	if i := strings.IndexFunc(s, Forbidden); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Invalid(field, "%s must not contain control characters or line breaks (found U+%04X)", field, r)
	}
	return nil
}
