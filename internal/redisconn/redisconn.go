// Package redisconn opens TicketVelo's Redis client. Redis holds only what can
// be rebuilt: waiting rooms, admissions, seat locks and the taken-seat bitmaps.
package redisconn

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// Open connects to the Redis server (or cluster) at url; tune, if given,
// adjusts the client's options first. Its errors never hold url's
// password.
func Open(url string, tune ...func(*rueidis.ClientOption)) (rueidis.Client, error) {
	client, err := open(url, tune)
	return client, redact.Error(err, url)
}

func open(url string, tune []func(*rueidis.ClientOption)) (rueidis.Client, error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parsing the URL: %w", err)
	}
	// A stalled Redis must fail requests quickly rather than pile them up:
	// the booker falls back to Postgres, the gateway answers 503.
	opt.ConnWriteTimeout = 2 * time.Second
	opt.Dialer.Timeout = 2 * time.Second
	opt.RetryDelay = briefRetries
	for _, t := range tune {
		t(&opt)
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("connecting to Redis at %v: %w", opt.InitAddress, err)
	}
	return client, nil
}

// briefRetries lets the client retry a read-only command that met a
// broken connection a few times within ~50 ms, enough for a reconnect or a
// cluster's redirect, and then fail it. rueidis's own policy retries until
// the context ends, which without a deadline is never: a node that died
// held its callers until the failover was over.
func briefRetries(attempts int, _ rueidis.Completed, _ error) time.Duration {
	if attempts >= 4 {
		return -1
	}
	return time.Duration(2<<attempts) * time.Millisecond
}

// Ping checks that Redis answers.
func Ping(ctx context.Context, client rueidis.Client) error {
	return client.Do(ctx, client.B().Ping().Build()).Error()
}
