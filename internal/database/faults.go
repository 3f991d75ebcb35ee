package database

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err is Postgres being away, restarting,
// failing over or out of room, rather than a bug: a client should get 503
// and try again, not 500. It knows
//
//   - server errors of class 08 (connection exception), 53 (insufficient
//     resources, too_many_connections among them), 57P01-57P03 (admin or
//     crash shutdown, cannot connect now), 57014 (a statement canceled by
//     our deadline or statement_timeout), 25006 (a read-only server: a
//     failover sent us to a standby), and 40001/40P01 (serialization
//     failure, deadlock) that retries did not get past;
//   - the driver's connection failures: refused, reset or closed
//     connections, a connection the driver closed earlier, io.EOF;
//   - deadlines: a store call or a wait for a pool connection that ran out
//     of time.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableState(pgErr.Code)
	}
	return IsConnectionFault(err)
}

// IsConnectionFault reports whether err is the connection to a store
// failing or running out of time, as opposed to the store's answer. Redis
// faults look the same from the socket, so redisconn uses it too.
func IsConnectionFault(err error) bool {
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &connect), pgconn.Timeout(err), errors.As(err, &netErr):
		return true
	}
	for _, target := range []error{
		context.DeadlineExceeded, pgconn.ErrConnClosed, net.ErrClosed, io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// unavailableState says which SQLSTATEs are the server's condition rather
// than the statement's fault.
func unavailableState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08", "53": // connection exception; insufficient resources (53300 too_many_connections)
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"57014",          // query_canceled: our deadline or statement_timeout
		"25006",          // read_only_sql_transaction: a failover left us on a standby
		"40001", "40P01": // serialization_failure, deadlock_detected, after retries
		return true
	}
	return false
}

// Retryable reports whether a transaction that failed with err before its
// COMMIT was sent may simply run again: the server rolled it back (the
// connection died, or it lost a serialization or deadlock race), so
// nothing of it stayed. A failed COMMIT is never retryable this way: its
// outcome is unknown, and only the request's idempotency record can say.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "57P01", "57P02", "57P03":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	return IsConnectionFault(err) && !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err)
}
