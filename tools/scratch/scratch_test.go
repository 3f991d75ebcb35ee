package scratch

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestWorldLeavesNothing opens a world on the shared Redis and one with a
// redis-server of its own, uses each, and checks that Close removes the
// database, the directory and the keys.
func TestWorldLeavesNothing(t *testing.T) {
	client, prefix := testenv.Redis(t)
	dbURL := testenv.DatabaseURL(t)
	for _, private := range []bool{false, true} {
		if private {
			testenv.Tool(t, "redis-server", "redis-server")
		}
		ctx := context.Background()
		w, err := Open(ctx, Stores{DatabaseURL: dbURL, RedisURL: testenv.RedisURL(), RedisPrefix: prefix}, "scratchtest", private)
		if err != nil {
			t.Fatal(err)
		}
		if (w.RedisURL != testenv.RedisURL()) != private || w.DatabaseURL == dbURL {
			t.Errorf("private %v: got Redis %s and database %s, want the world's own", private, w.RedisURL, w.DatabaseURL)
		}
		use(t, w)
		if dbs := testenv.ScratchDatabases(t, dbURL, "scratchtest"); dbs != 1 {
			t.Errorf("private %v: %d scratch databases while open, want 1", private, dbs)
		}
		w.Close()
		if _, err := os.Stat(w.Dir); !os.IsNotExist(err) {
			t.Errorf("private %v: the directory is left: %v", private, err)
		}
		if keys, err := client.Do(ctx, client.B().Keys().Pattern(w.RedisPrefix+"*").Build()).AsStrSlice(); err != nil || len(keys) > 0 {
			t.Errorf("private %v: keys left: %v, %v", private, keys, err)
		}
		if dbs := testenv.ScratchDatabases(t, dbURL, "scratchtest"); dbs > 0 {
			t.Errorf("private %v: %d databases left", private, dbs)
		}
	}
}

// use signs fans, makes the ops account, writes a key and reads INFO.
func use(t *testing.T, w *World) {
	t.Helper()
	ctx := context.Background()
	toks, err := w.SignFans(5, 3)
	if err != nil || len(toks) != 3 {
		t.Fatalf("SignFans: got %d, %v", len(toks), err)
	}
	if a, err := w.Ring.VerifyAccess(string(toks[2][len("Bearer "):]), time.Now()); err != nil || a.UserID != 7 || a.Role != tokens.RoleFan {
		t.Errorf("the third fan's token: got %+v, %v, want fan 7", a, err)
	}
	if _, err := w.OpsToken(ctx); err != nil {
		t.Error(err)
	}
	if err := w.Redis.Do(ctx, w.Redis.B().Set().Key(w.RedisPrefix+"k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if cpu, err := w.RedisCPU(ctx); err != nil || cpu <= 0 {
		t.Errorf("RedisCPU: got %s, %v", cpu, err)
	}
}
