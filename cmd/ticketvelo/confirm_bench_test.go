package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// BenchmarkConfirmLatencyWithNotifier measures the booker's confirm call
// (POST /api/v1/holds/{id}/confirm over HTTP) with no notifier running, with
// one mailing every order, and with none again, in one run, written up in
// docs/BENCHMARKS.md ("## Notifier"):
//
//	go test ./cmd/ticketvelo/ -run '^$' -bench BenchmarkConfirmLatencyWithNotifier -benchtime 1x -timeout 10m
//
// The booker and the notifier are the real subcommands, in this process,
// over Postgres, Redis and the embedded broker; the notifier writes .eml
// files. Confirm only writes the outbox row, so mail should not show in its
// latency beyond the CPU the notifier takes from a 2-core machine.
func BenchmarkConfirmLatencyWithNotifier(b *testing.B) {
	for b.Loop() {
		benchConfirm(b)
	}
}

const benchWorkers, benchPerPhase = 8, 400

func benchConfirm(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	rc, prefix := testenv.Redis(b)
	broker, err := kafka.StartEmbedded("127.0.0.1:0", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	dataDir := b.TempDir()
	env := map[string]string{
		"DATABASE_URL": testenv.DatabaseURL(b), "REDIS_URL": testenv.RedisURL(), "TICKETVELO_REDIS_PREFIX": prefix,
		"KAFKA_BROKERS": broker.Addrs()[0], "TICKETVELO_DATA_DIR": dataDir, "TICKETVELO_LOG_LEVEL": "error",
	}
	startProgram := func(name string) (base string, stop func()) {
		addr := testenv.FreeAddr(b)
		pctx, pcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		getenv := func(k string) string {
			if k == "TICKETVELO_ADDR" {
				return addr
			}
			return env[k]
		}
		go func() { done <- run(pctx, []string{name}, io.Discard, os.Stderr, getenv) }()
		base = "http://" + addr
		testenv.Eventually(b, 60*time.Second, func() error {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s not ready: %d", name, resp.StatusCode)
			}
			return nil
		})
		return base, func() {
			pcancel()
			if err := <-done; err != nil {
				b.Errorf("%s: %v", name, err)
			}
		}
	}

	booker, stopBooker := startProgram("booker")
	defer stopBooker()
	pool, err := database.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	const phases = 4 // warm-up, without, with, without again
	seed, err := catalog.NewStore(pool).SeedGrid(ctx, "confirm-bench", phases*benchPerPhase, time.Now().Add(-time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	users := benchUsers(b, ctx, pool, phases*benchPerPhase)
	ring, err := tokens.LoadOrCreate(filepath.Join(dataDir, "keys.pem"))
	if err != nil {
		b.Fatal(err)
	}
	c := &confirmBench{base: booker, event: seed.EventID, ring: ring, users: users, redis: rc, prefix: prefix, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers}}}

	mailed := func(n int) {
		testenv.Eventually(b, 3*time.Minute, func() error {
			files, _ := filepath.Glob(filepath.Join(dataDir, "mail", "*.eml"))
			if len(files) < n {
				return fmt.Errorf("%d of %d mails written", len(files), n)
			}
			return nil
		})
	}
	c.phase(b, 0)
	without := c.phase(b, 1)
	// The notifier starts, mails the backlog of the first two phases, and
	// then runs beside the booker, mailing each order as it is confirmed.
	_, stopNotifier := startProgram("notifier")
	mailed(2 * benchPerPhase)
	with := c.phase(b, 2)
	mailed(3 * benchPerPhase)
	stopNotifier()
	again := c.phase(b, 3)

	for _, p := range []struct {
		name string
		l    []time.Duration
	}{{"without notifier", without}, {"with notifier", with}, {"without again", again}} {
		b.Logf("confirm %-17s p50 %6s  p99 %6s", p.name, pct(p.l, 50), pct(p.l, 99))
	}
	b.ReportMetric(float64(pct(with, 50))/float64(pct(without, 50)), "p50-ratio")
	b.ReportMetric(float64(pct(with, 99))/float64(pct(without, 99)), "p99-ratio")
}

func pct(l []time.Duration, p int) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond)
}

func benchUsers(b *testing.B, ctx context.Context, pool *pgxpool.Pool, n int) []int64 {
	b.Helper()
	rows, err := pool.Query(ctx, `INSERT INTO users (email, name, password_hash)
		SELECT 'bench' || i || '@example.com', 'Fan ' || i, 'x' FROM generate_series(1, $1) i RETURNING id`, n)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

type confirmBench struct {
	base   string
	event  int64
	ring   *tokens.Ring
	users  []int64
	client *http.Client
	redis  rueidis.Client
	prefix string
}

// phase holds and confirms one seat for each of its users and returns the
// latencies of the confirm calls.
func (c *confirmBench) phase(b *testing.B, n int) []time.Duration {
	b.Helper()
	work := make(chan int)
	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for i := range work {
				d, err := c.buy(i)
				if err != nil {
					b.Error(err)
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		})
	}
	for i := n * benchPerPhase; i < (n+1)*benchPerPhase; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(latencies) == 0 {
		b.Fatal("no confirm succeeded")
	}
	return latencies
}

// buy holds seat i for user i and confirms it, timing the confirm alone.
func (c *confirmBench) buy(i int) (time.Duration, error) {
	user, now := c.users[i], time.Now()
	admission, adm, err := c.ring.IssueAdmission(user, c.event, 10*time.Minute, now)
	if err != nil {
		return 0, err
	}
	// The bench is the waiting room: it admits the fan where the booker
	// checks admissions.
	admit := c.redis.B().Zadd().Key(salekeys.Active(c.prefix, c.event)).ScoreMember().
		ScoreMember(float64(adm.ExpiresAt.Truncate(time.Second).UnixMilli()), strconv.FormatInt(user, 10)).Build()
	if err := c.redis.Do(context.Background(), admit).Error(); err != nil {
		return 0, err
	}
	access, _, err := c.ring.IssueAccess(user, tokens.RoleFan, time.Hour, now)
	if err != nil {
		return 0, err
	}
	var hold struct {
		Hold struct {
			ID string `json:"id"`
		} `json:"hold"`
	}
	if err := c.post(fmt.Sprintf("/api/v1/events/%d/holds", c.event), admission, fmt.Sprintf(`{"seat_ids":[%d]}`, i), 201, &hold); err != nil {
		return 0, fmt.Errorf("hold of seat %d: %w", i, err)
	}
	start := time.Now()
	if err := c.post("/api/v1/holds/"+hold.Hold.ID+"/confirm", access, `{"payment_token":"tok_visa"}`, 201, nil); err != nil {
		return 0, fmt.Errorf("confirm of seat %d: %w", i, err)
	}
	return time.Since(start), nil
}

func (c *confirmBench) post(path, token, body string, want int, out any) error {
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
