package booker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// The booker's benchmarks, written up in docs/BENCHMARKS.md ("## Booker").
// One command runs every scenario through the booker and through a naive
// path (Postgres SELECT ... FOR UPDATE alone, no Redis) and prints the
// figures and their ratios:
//
//	go test ./booker/ -run '^$' -bench BenchmarkBooker -benchtime 1x -timeout 30m
//
// Requests go straight to the hold path (no HTTP, no token check), so the
// two paths are compared on what differs between them.

// benchResult is one scenario run through one path.
type benchResult struct {
	requests, created, conflicts int
	beforePostgres               int // conflicts decided by the bitmap or a lock
	transactions                 int64
	wall                         time.Duration
	latencies                    []time.Duration
	conflictLatencies            []time.Duration // of the 409s alone
}

func (r *benchResult) quantile(q float64) time.Duration { return quantile(r.latencies, q) }

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(math.Ceil(q*float64(len(l))))-1)]
}

func (r *benchResult) holdsPerSecond() float64 { return float64(r.created) / r.wall.Seconds() }
func (r *benchResult) txPerHold() float64 {
	return float64(r.transactions) / float64(max(1, r.created))
}
func (r *benchResult) sharedBeforePostgres() float64 {
	return float64(r.beforePostgres) / float64(max(1, r.conflicts))
}

func (r *benchResult) String() string {
	return fmt.Sprintf("%6d requests in %8s: %5d holds (%7.0f holds/s), %6d conflicts (%5.1f%% before Postgres), %6d Postgres transactions (%.3f per hold), p50 %s p99 %s",
		r.requests, r.wall.Round(time.Millisecond), r.created, r.holdsPerSecond(), r.conflicts, 100*r.sharedBeforePostgres(),
		r.transactions, r.txPerHold(), r.quantile(0.5).Round(10*time.Microsecond), r.quantile(0.99).Round(10*time.Microsecond)) +
		fmt.Sprintf(", 409s alone p99 %s", quantile(r.conflictLatencies, 0.99).Round(10*time.Microsecond))
}

// benchRequest is one fan's hold attempt.
type benchRequest struct {
	user  int64
	seats []int
}

// holdPath is one way to hold seats.
type holdPath func(ctx context.Context, r benchRequest, key string) (created bool, conflict bool, err error)

// run sends requests through path with workers at a time.
func runBench(b *testing.B, path holdPath, requests []benchRequest, workers int) *benchResult {
	b.Helper()
	res := &benchResult{requests: len(requests), latencies: make([]time.Duration, len(requests))}
	conflicted := make([]bool, len(requests))
	defer markConflicts(res, conflicted)
	var created, conflicts atomic.Int64
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(requests) {
					return
				}
				t := time.Now()
				ok, conflict, err := path(ctx, requests[i], fmt.Sprint("bench-", i))
				res.latencies[i] = time.Since(t)
				switch {
				case err != nil:
					once.Do(func() { firstErr = err })
				case ok:
					created.Add(1)
				case conflict:
					conflicts.Add(1)
					conflicted[i] = true
				}
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	if firstErr != nil {
		b.Fatalf("hold failed: %v", firstErr)
	}
	res.created, res.conflicts = int(created.Load()), int(conflicts.Load())
	return res
}

// markConflicts keeps the latencies of the requests that got 409.
func markConflicts(res *benchResult, conflicted []bool) {
	for i, c := range conflicted {
		if c {
			res.conflictLatencies = append(res.conflictLatencies, res.latencies[i])
		}
	}
}

// bookerPath holds through the booker's hold path, for the fans of
// requests, whom it admits first (as the waiting room would) so the claim
// finds their admissions live.
func bookerPath(b *testing.B, h *harness, eventID int64, requests []benchRequest) holdPath {
	ctx := context.Background()
	ev, err := h.svc.events.get(ctx, eventID)
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	admit := h.redis.B().Zadd().Key(salekeys.Active(h.prefix, eventID)).ScoreMember()
	for _, r := range requests {
		admit = admit.ScoreMember(float64(exp.UnixMilli()), strconv.FormatInt(r.user, 10))
	}
	if err := h.redis.Do(ctx, admit.Build()).Error(); err != nil {
		b.Fatalf("admitting the fans: %v", err)
	}
	return func(ctx context.Context, r benchRequest, key string) (bool, bool, error) {
		req := &holdRequest{ev: ev, userID: r.user, seats: r.seats, key: key, admissionExp: exp,
			hash: requestHash("hold", fmt.Sprint(eventID), seatList(r.seats))}
		a, err := h.svc.holds.createHold(ctx, req)
		return a.status == fasthttp.StatusCreated, a.status == fasthttp.StatusConflict, err
	}
}

// naivePath holds with Postgres alone: lock the rows with SELECT ... FOR
// UPDATE in seat order, check them, then write the hold, as a booker
// without Redis would. It writes what the booker writes (the idempotent
// answer, the hold, the fan's count, the seats), so only the way of
// deciding differs. It lives here, not in the booker.
func naivePath(pool *pgxpool.Pool, ev *eventInfo, hold time.Duration, transactions *atomic.Int64) holdPath {
	return func(ctx context.Context, r benchRequest, key string) (bool, bool, error) {
		transactions.Add(1)
		holdID := newUUID()
		expires := time.Now().Add(hold)
		view := ev.holdView(holdID, "active", r.seats, expires)
		answer := jsonAnswer(fasthttp.StatusCreated, map[string]any{"hold": view})
		conflict := false
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT status FROM seats WHERE event_id = $1 AND seat_no = ANY($2)
				ORDER BY seat_no FOR UPDATE`, ev.ID, r.seats)
			if err != nil {
				return err
			}
			statuses, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if slices.ContainsFunc(statuses, func(s string) bool { return s != "available" }) {
				conflict = true
				return errConflictRollback
			}
			batch := &pgx.Batch{}
			batch.Queue(`INSERT INTO idempotency_keys (user_id, key, scope, request_hash, status_code, response)
				VALUES ($1, $2, $3, 'naive', 201, $4)`, r.user, key, pgstore.HoldKey(ev.ID, r.user, key).Scope, append([]byte("0:"), answer.body...))
			batch.Queue(`INSERT INTO holds (id, event_id, user_id, seat_count, total_cents, expires_at, seat_nos)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, holdID, ev.ID, r.user, len(r.seats), view.TotalCents, expires, r.seats)
			batch.Queue(`INSERT INTO fan_tickets AS f (event_id, user_id, tickets) VALUES ($1, $2, $3)
				ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = f.tickets + excluded.tickets`, ev.ID, r.user, len(r.seats))
			batch.Queue(`UPDATE seats SET status = 'held', hold_id = $3, version = version + 1
				WHERE event_id = $1 AND seat_no = ANY($2) AND status = 'available'`, ev.ID, r.seats, holdID)
			return tx.SendBatch(ctx, batch).Close()
		})
		if errors.Is(err, errConflictRollback) {
			err = nil
		}
		return err == nil && !conflict, conflict, err
	}
}

var errConflictRollback = errors.New("seats taken")

// openNaivePool is a pool of the booker's size for the naive path, whose
// requests all go to Postgres and queue for its connections: without the
// booker's acquire timeout, which would refuse them with 503s after a
// second instead.
func openNaivePool(b *testing.B, h *harness) *pgxpool.Pool {
	pool, err := database.OpenWith(context.Background(), h.dbURL+"&pool_max_conns=16", database.Options{AcquireTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// benchEvent adds an event on the harness's venue with its own seats.
func benchEvent(b *testing.B, h *harness, slug string) int64 {
	b.Helper()
	store := catalog.NewStore(h.pool)
	var venue int64
	if err := h.pool.QueryRow(context.Background(), `SELECT venue_id FROM events WHERE id = $1`, h.eventID).Scan(&venue); err != nil {
		b.Fatal(err)
	}
	ev, err := store.EnsureEvent(context.Background(), catalog.EventSpec{VenueID: venue, Slug: slug, Name: slug,
		StartsAt: time.Now().Add(24 * time.Hour), SaleOpensAt: time.Now().Add(-time.Hour), MaxTicketsPerFan: 10})
	if err != nil {
		b.Fatal(err)
	}
	return ev.ID
}

// dropRequests is a drop on the arena: each fan asks for 1 to 4 adjacent
// seats in one row, picked from a stale map with a strong pull towards the
// floor and the lower bowl, so many fans want the same seats.
func dropRequests(ev *eventInfo, users []int64, seed uint64) []benchRequest {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]benchRequest, len(users))
	for i, u := range users {
		target := int(float64(ev.capacity()) * math.Pow(rng.Float64(), 3))
		si := ev.seats[target]
		row := ev.sections[si.Section].Rows[si.Row].Seats
		q := min(1+rng.IntN(4), len(row))
		start := slices.Index(row, int32(target))
		start = min(start, len(row)-q)
		seats := make([]int, q)
		for j := range seats {
			seats[j] = int(row[start+j])
		}
		out[i] = benchRequest{user: u, seats: seats}
	}
	return out
}

// BenchmarkBooker runs the hot seat and the arena drop through the booker
// and through the naive path, and reports the ratios.
func BenchmarkBooker(b *testing.B) {
	arena := catalog.ArenaLayout()
	for range b.N {
		h := newHarness(b, harnessOptions{layout: &arena, poolConns: 16, realClock: true})
		ctx := context.Background()
		naivePool := openNaivePool(b, h)

		// The hot seat: 10,000 fans at once for one seat.
		const hotFans = 10000
		users := h.users(hotFans)
		hot := make([]benchRequest, hotFans)
		for i, u := range users {
			hot[i] = benchRequest{user: u, seats: []int{42}}
		}
		hotBooker := benchEvent(b, h, "hot-booker")
		before := h.svc.Stats()
		rb := runBench(b, bookerPath(b, h, hotBooker, hot), hot, hotFans)
		fill(rb, before, h.svc.Stats())
		hotNaive := benchEvent(b, h, "hot-naive")
		evNaive, _ := h.svc.events.get(ctx, hotNaive)
		var hotTx atomic.Int64
		rn := runBench(b, naivePath(naivePool, evNaive, 10*time.Minute, &hotTx), hot, hotFans)
		rn.transactions = hotTx.Load()
		checkInvariants(b, h.pool, hotBooker)
		checkInvariants(b, h.pool, hotNaive)
		if rb.created != 1 || rn.created != 1 {
			b.Fatalf("hot seat: %d and %d holds, want exactly 1 each", rb.created, rn.created)
		}

		// The drop: 30,000 fans on the 19,920-seat arena, through each path
		// with 8 to 128 requests in flight, each run on fresh seats.
		const dropFans = 30000
		users = h.users(dropFans)
		var naiveTx atomic.Int64
		type point struct {
			workers       int
			booker, naive *benchResult
		}
		var points []point
		for _, workers := range []int{8, 16, 32, 64, 128} {
			p := point{workers: workers}
			evB, _ := h.svc.events.get(ctx, benchEvent(b, h, fmt.Sprintf("drop-booker-%d", workers)))
			before := h.svc.Stats()
			drop := dropRequests(evB, users, 42)
			p.booker = runBench(b, bookerPath(b, h, evB.ID, drop), drop, workers)
			fill(p.booker, before, h.svc.Stats())
			b.Logf("drop, %3d in flight, booker decided %v", workers, sub(before.Decided, h.svc.Stats().Decided))
			evN, _ := h.svc.events.get(ctx, benchEvent(b, h, fmt.Sprintf("drop-naive-%d", workers)))
			naiveTx.Store(0)
			p.naive = runBench(b, naivePath(naivePool, evN, 10*time.Minute, &naiveTx), dropRequests(evN, users, 42), workers)
			p.naive.transactions = naiveTx.Load()
			checkInvariants(b, h.pool, evB.ID)
			checkInvariants(b, h.pool, evN.ID)
			points = append(points, p)
		}

		b.Logf("hot seat, booker: %s", rb)
		b.Logf("hot seat, naive:  %s", rn)
		b.Logf("hot seat: booker %.1fx faster, %.0fx fewer Postgres transactions",
			rn.wall.Seconds()/rb.wall.Seconds(), float64(rn.transactions)/float64(max(1, rb.transactions)))
		best := func(get func(point) *benchResult) float64 {
			m := 0.0
			for _, p := range points {
				m = max(m, get(p).holdsPerSecond())
			}
			return m
		}
		// Each path's operating point is the fewest requests in flight that
		// reach 90% of its best holds/s: more in flight only adds queueing.
		knee := func(get func(point) *benchResult) point {
			top := best(get)
			for _, p := range points {
				if get(p).holdsPerSecond() >= 0.9*top {
					return p
				}
			}
			return points[len(points)-1]
		}
		for _, p := range points {
			b.Logf("drop, %3d in flight, booker: %s", p.workers, p.booker)
			b.Logf("drop, %3d in flight, naive:  %s", p.workers, p.naive)
			b.Logf("drop, %3d in flight: booker %.2fx the holds/s, p99 %.2fx the naive's", p.workers,
				p.booker.holdsPerSecond()/p.naive.holdsPerSecond(), p.booker.quantile(0.99).Seconds()/p.naive.quantile(0.99).Seconds())
		}
		bookerOf := func(p point) *benchResult { return p.booker }
		naiveOf := func(p point) *benchResult { return p.naive }
		kb, kn := knee(bookerOf), knee(naiveOf)
		db, dn := kb.booker, kn.naive
		b.Logf("drop, best holds/s: booker %.0f, naive %.0f (%.2fx); at each path's knee (booker %d in flight, naive %d): p99 %s against %s; %.3f against %.3f Postgres transactions per hold; %.1f%% of conflicts rejected before Postgres (naive 0%%)",
			best(bookerOf), best(naiveOf), best(bookerOf)/best(naiveOf), kb.workers, kn.workers,
			db.quantile(0.99).Round(100*time.Microsecond), dn.quantile(0.99).Round(100*time.Microsecond),
			db.txPerHold(), dn.txPerHold(), 100*db.sharedBeforePostgres())
		b.ReportMetric(rb.wall.Seconds()*1000, "hot-booker-ms")
		b.ReportMetric(rn.wall.Seconds()*1000, "hot-naive-ms")
		b.ReportMetric(float64(rb.transactions), "hot-booker-pgtx")
		b.ReportMetric(best(bookerOf), "drop-booker-holds/s")
		b.ReportMetric(best(naiveOf), "drop-naive-holds/s")
		b.ReportMetric(db.quantile(0.99).Seconds()*1000, "drop-booker-p99-ms")
		b.ReportMetric(dn.quantile(0.99).Seconds()*1000, "drop-naive-p99-ms")
		b.ReportMetric(db.txPerHold(), "drop-booker-pgtx/hold")
		b.ReportMetric(100*db.sharedBeforePostgres(), "drop-booker-%conflicts-before-pg")
	}
}

func sub(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// fill takes the booker's own counts of a run from its stats.
func fill(r *benchResult, before, after Stats) {
	r.transactions = after.HoldTransactions - before.HoldTransactions
	d := func(k string) int { return int(after.Decided[k] - before.Decided[k]) }
	r.beforePostgres = d("conflict/bitmap") + d("conflict/lock")
}
