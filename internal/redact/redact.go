// Package redact keeps credentials out of errors, help texts and log
// lines. DATABASE_URL, REDIS_URL and SMTP_URL carry passwords, and a
// start-up error that echoes one puts it in the container's log, where
// whoever reads logs can read it.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Mask stands in for a secret.
const Mask = "xxxxx"

// secretPair is a key=value setting whose key names a secret, in a URL's
// query or a PostgreSQL key/value string: password=, sslpassword=,
// auth_token=... Its value may be quoted.
var secretPair = regexp.MustCompile(`(?i)((?:^|[?&;\s])[a-z_]*(?:pass|secret|token)[a-z_]*\s*=\s*)('(?:[^'\\]|\\.)*'|[^&;\s]*)`)

// URL returns raw fit to print: the password of its user info and the
// values of secret settings (password=...) replaced by Mask, the rest as
// it was. It does not need raw to parse: a value that is not a URL is
// what a start-up error most often has to show.
func URL(raw string) string {
	s := raw
	if i, j, ok := password(raw); ok {
		s = raw[:i] + Mask + raw[j:]
	}
	return secretPair.ReplaceAllString(s, "${1}"+Mask)
}

// Error returns err with every secret of raw replaced in its text by
// Mask, for errors of libraries that may quote the URL they were given;
// errors.Is and errors.As still see err. It returns err itself when its
// text holds no secret.
func Error(err error, raw string) error {
	if err == nil {
		return nil
	}
	msg := scrub(err.Error(), raw)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

// scrub is s with every secret of raw replaced by Mask.
func scrub(s, raw string) string {
	for _, secret := range secrets(raw) {
		s = strings.ReplaceAll(s, secret, Mask)
	}
	return secretPair.ReplaceAllString(s, "${1}"+Mask)
}

// ParseError is the cause of url.Parse's err about raw, fit to print.
// url.Error quotes the whole URL, and its cause quotes the part Parse
// stumbled on, which in a URL with a password is often a piece of the
// password (a '/' in it starts the path, so the rest looks like a port).
// So when raw holds a secret only a hint is left.
func ParseError(err error, raw string) error {
	if URL(raw) != raw {
		return errors.New("cannot parse it: percent-encode any of / ? # @ : % in the user name or password")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// password finds the password of raw's user info at raw[i:j]. When raw
// parses as a URL the user info ends where url.Parse ends it, at the last
// '@' of the authority; when it does not (often a password with a '/' or
// '%' in it is why), at the last '@' after the scheme, which may hide more
// than the password but never less.
func password(raw string) (i, j int, ok bool) {
	start := 0
	if k := strings.Index(raw, "://"); k >= 0 {
		start = k + 3
	}
	rest := raw[start:]
	if _, err := url.Parse(raw); err == nil {
		if k := strings.IndexAny(rest, "/?#"); k >= 0 {
			rest = rest[:k]
		}
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}

// secrets are the secret parts of raw in each form an error may quote
// them: as written, unescaped, and escaped as a Go string.
func secrets(raw string) []string {
	var found []string
	if i, j, ok := password(raw); ok {
		found = append(found, raw[i:j])
	}
	for _, m := range secretPair.FindAllStringSubmatch(raw, -1) {
		found = append(found, m[2], strings.Trim(m[2], "'"))
	}
	var out []string
	for _, s := range found {
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil {
			out = append(out, u)
		}
		out = append(out, strings.Trim(strconv.Quote(s), `"`))
	}
	// Longest first, so a secret's longer form is masked whole; no empty
	// string, which would mask between every character.
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
