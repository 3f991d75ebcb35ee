package redisconn

import (
	"errors"
	"strings"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// IsUnavailable reports whether err is Redis being away, slow or not ready
// rather than a bug: a timeout or a broken connection, a client that
// cannot connect, or a server answering that it is loading, busy with a
// script, failing over or without its cluster. Other error replies
// (WRONGTYPE, a script error) are bugs and stay 500.
func IsUnavailable(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) {
		return false
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		if re.IsLoading() || re.IsTryAgain() || re.IsClusterDown() {
			return true
		}
		msg := re.Error()
		for _, p := range []string{"BUSY ", "MASTERDOWN", "READONLY", "NOREPLICAS"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, rueidis.ErrClosing) || errors.Is(err, rueidis.ErrDoCacheAborted) ||
		errors.Is(err, rueidis.ErrNoSlot) || database.IsConnectionFault(err)
}
