package testenv

import (
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/rediscluster"
)

// RedisCluster starts a Redis Cluster of masters nodes (redis-server from
// PATH, no persistence, each on a free loopback port) for the test, and
// returns the URL that reaches it; the nodes stop when the test ends. It
// fails the test when redis-server or redis-cli is missing: the cluster
// is part of what the project runs on.
func RedisCluster(tb testing.TB, masters int) string {
	tb.Helper()
	c, err := rediscluster.Start(tb.Context(), rediscluster.Options{Dir: tb.TempDir(), Masters: masters})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.URL()
}
