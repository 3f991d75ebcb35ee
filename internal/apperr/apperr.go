// Package apperr is the error vocabulary every TicketVelo service speaks. An
// Error carries a Kind, which decides the HTTP status in one table
// (httpapi), and a Code that clients branch on ("seat_taken").
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of failure; each kind has one HTTP status.
type Kind uint8

// The kinds of failure.
const (
	Internal         Kind = iota // 500: a bug or a store that failed unexpectedly
	Invalid                      // 422: the request is well-formed but its values are wrong
	Malformed                    // 400: the request cannot be parsed
	Unauthenticated              // 401: no valid token
	PaymentRequired              // 402: the payment was declined
	Forbidden                    // 403: valid token, not allowed
	NotFound                     // 404
	MethodNotAllowed             // 405
	Conflict                     // 409: the state does not allow it (seat taken, already in flight)
	Gone                         // 410: it existed and expired
	TooLarge                     // 413
	UnsupportedMedia             // 415
	RateLimited                  // 429: with a retry-after hint
	Unavailable                  // 503: a dependency is down; try again
)

// Error is a failure a client can act on.
type Error struct {
	Kind    Kind
	Code    string         // stable, snake_case: what clients branch on
	Message string         // for humans
	Details map[string]any // optional machine-readable context, e.g. the taken seats
	// RetryAfter, in seconds, for RateLimited and Unavailable.
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match two Errors with the same code, so callers can
// compare with sentinels while handlers add details to copies.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// New returns an Error of kind with code and a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e carrying details.
func (e *Error) With(details map[string]any) *Error {
	c := *e
	c.Details = details
	return &c
}

// Withf returns a copy of e with another message.
func (e *Error) Withf(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// RetryAfterSeconds is a wait as a Retry-After value: whole seconds,
// rounded up, at least 1 (a client told 0 would come straight back).
func RetryAfterSeconds(d time.Duration) int { return max(1, int((d+time.Second-1)/time.Second)) }

// As returns the *Error in err's chain, or a generic internal error that
// hides err's text from clients.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Code: "internal", Message: "internal error"}
}
