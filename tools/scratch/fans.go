package scratch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// SignFans makes one "Bearer <token>" header value per fan, fans
// first..first+n-1, each valid for two hours: fans signed in without an
// account or a login each, which would cost a benchmark of a million fans
// more than it measures.
func (w *World) SignFans(first int64, n int) ([][]byte, error) {
	out := make([][]byte, n)
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	for k := range workers {
		g.Go(func() error {
			for i := k; i < n; i += workers {
				tok, _, err := w.Ring.IssueAccess(first+int64(i), tokens.RoleFan, 2*time.Hour, time.Now())
				if err != nil {
					return err
				}
				out[i] = []byte("Bearer " + tok)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// OpsToken makes an ops account in the world's database and signs its
// access token: ops routes ask the database for the role, not only the
// token.
func (w *World) OpsToken(ctx context.Context) (string, error) {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return "", err
	}
	users, err := identity.NewStore(w.Pool, identity.DefaultParams, identity.HashLimits{})
	if err != nil {
		return "", err
	}
	u, err := users.Create(ctx, identity.Registration{Email: "bench-ops@ticketvelo.local", Password: hex.EncodeToString(pw), Name: "bench"}, tokens.RoleOps)
	if err != nil {
		return "", fmt.Errorf("making the benchmark's ops account: %w", err)
	}
	tok, _, err := w.Ring.IssueAccess(u.ID, tokens.RoleOps, time.Hour, time.Now())
	return tok, err
}

// RedisInfo reads the numeric fields of one section of the world's Redis's
// INFO.
func (w *World) RedisInfo(ctx context.Context, section string) (map[string]float64, error) {
	info, err := w.Redis.Do(ctx, w.Redis.B().Info().Section(section).Build()).ToString()
	if err != nil {
		return nil, fmt.Errorf("reading Redis INFO %s: %w", section, err)
	}
	fields := map[string]float64{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
			fields[k] = f
		}
	}
	return fields, nil
}

// RedisCPU is the Redis server's user and system CPU time so far.
func (w *World) RedisCPU(ctx context.Context) (time.Duration, error) {
	cpu, err := w.RedisInfo(ctx, "cpu")
	if err != nil {
		return 0, err
	}
	return time.Duration((cpu["used_cpu_sys"] + cpu["used_cpu_user"]) * float64(time.Second)), nil
}
