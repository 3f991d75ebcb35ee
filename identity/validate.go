package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

// Password policy. Length is what makes a password strong (NIST SP 800-63B):
// no composition rules, but a floor, a ceiling that bounds hashing work, and
// a refusal of the passwords every attacker tries first.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// Errors of accounts.
var (
	ErrEmailTaken     = apperr.New(apperr.Conflict, "email_taken", "an account with this email already exists")
	ErrBadCredentials = apperr.New(apperr.Unauthenticated, "bad_credentials", "the email or password is wrong")
	ErrWeakPassword   = apperr.New(apperr.Invalid, "weak_password", "the password must have 10 to 128 characters and must not be a common password or your email")
	ErrUserNotFound   = apperr.New(apperr.NotFound, "not_found", "no such user")
)

func invalid(field, format string, args ...any) *apperr.Error {
	return textfield.Invalid(field, format, args...)
}

// NormaliseEmail trims and lower-cases an address and checks its shape:
// one '@', a local part of at most 64 bytes, a domain with a dot, no spaces
// or control characters, 254 bytes at most. Whether the mailbox exists is
// for the confirmation mail to find out.
func NormaliseEmail(raw string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(raw))
	local, domain, ok := strings.Cut(email, "@")
	switch {
	case email == "":
		return "", invalid("email", "email is required")
	case len(email) > 254 || !utf8.ValidString(email):
		return "", invalid("email", "email must be a valid address of at most 254 bytes")
	case !ok || local == "" || len(local) > 64 || strings.Contains(domain, "@"):
		return "", invalid("email", "email must look like name@example.com")
	case !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return "", invalid("email", "email's domain must look like example.com")
	}
	for _, r := range email {
		if unicode.IsSpace(r) || textfield.Forbidden(r) || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' {
			return "", invalid("email", "email must not contain spaces, quotes or the characters <>,;")
		}
	}
	return email, nil
}

// CleanName trims a display name and checks it has 1 to 100 characters and
// no control characters or line breaks: it is shown in the UI and goes in
// the To header of confirmation mail.
func CleanName(raw string) (string, error) {
	return textfield.Clean("name", raw, 100)
}

// CheckPassword applies the password policy for an account with email.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	weak := func(msg string) error {
		return ErrWeakPassword.Withf("%s", msg).With(map[string]any{"min_length": MinPasswordLen, "max_length": MaxPasswordLen})
	}
	switch {
	case !utf8.ValidString(password):
		return weak("the password must be valid UTF-8 text")
	case n < MinPasswordLen:
		return weak("the password must have at least 10 characters")
	case n > MaxPasswordLen:
		return weak("the password must have at most 128 characters")
	case strings.Count(password, string([]rune(password)[:1])) == n:
		return weak("the password must not repeat one character")
	}
	lower := strings.ToLower(password)
	if local, _, _ := strings.Cut(email, "@"); lower == email || (len(local) >= 4 && strings.Contains(lower, local)) {
		return weak("the password must not contain your email address, nor the part of it before the @")
	}
	if commonPasswords[lower] {
		return weak("this password is among the most common ones; choose another")
	}
	return nil
}

// commonPasswords are the entries of the usual breach top lists that pass
// the length rule.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields(`
		1234567890 0123456789 12345678910 1234567891 0987654321 1111111111 1234512345
		qwertyuiop qwerty1234 qwerty12345 1q2w3e4r5t 1qaz2wsx3edc zaq12wsxcde asdfghjkl1
		password12 password123 password1234 passw0rd12 p@ssw0rd12 letmein123 welcome123
		iloveyou12 football12 baseball12 princess12 sunshine12 superman12 dragon1234
		monkey1234 abc1234567 abcdefghij administrator changeme12 trustno1234
		ticketvelo ticketvelo1 ticketvelo123 tickets123 concert123`) {
		m[p] = true
	}
	return m
}()
