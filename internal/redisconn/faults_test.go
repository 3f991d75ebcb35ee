package redisconn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// Redis away, cut off or out of time is unavailable (503); a wrong command
// is a bug (500); a missing key is no error at all. The client reconnects
// by itself once Redis is back.
func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	shared, prefix := testenv.Redis(t)
	ctx := context.Background()
	key := prefix + "k"
	if err := shared.Do(ctx, shared.B().Set().Key(key).Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	wrongType := shared.Do(ctx, shared.B().Lpush().Key(key).Element("x").Build()).Error()
	if wrongType == nil || redisconn.IsUnavailable(wrongType) {
		t.Errorf("WRONGTYPE: got %v unavailable=%v, want an error that is a bug", wrongType, redisconn.IsUnavailable(wrongType))
	}
	nilErr := shared.Do(ctx, shared.B().Get().Key(prefix+"missing").Build()).Error()
	if redisconn.IsUnavailable(nilErr) {
		t.Errorf("a missing key (%v) counted as unavailable", nilErr)
	}

	target := strings.TrimSuffix(strings.TrimPrefix(testenv.RedisURL(), "redis://"), "/0")
	proxy := testenv.StartProxy(t, target)
	client, err := redisconn.Open("redis://" + proxy.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	get := func() error {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		return client.Do(cctx, client.B().Get().Key(key).Build()).Error()
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if err := get(); !redisconn.IsUnavailable(err) {
		t.Errorf("Redis cut off: got %v, want an unavailable error", err)
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, get)
	client.Close()
	if err := get(); !redisconn.IsUnavailable(err) {
		t.Errorf("closed client: got %v, want an unavailable error", err)
	}
}
