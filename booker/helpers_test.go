package booker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// recordingAdmissions is the waiting room of the tests: it remembers what
// the booker told it, and keeps the live admissions where the booker reads
// them (internal/salekeys), as the real waiting room does.
type recordingAdmissions struct {
	redis   rueidis.Client
	prefix  string
	mu      sync.Mutex
	done    map[[2]int64]int
	reports []float64
	// tokens is each fan's admission token while their admission lives.
	tokens map[int64]admitted
}

type admitted struct {
	token string
	exp   time.Time
}

func (a *recordingAdmissions) Done(ctx context.Context, eventID, userID int64, admission time.Time) error {
	a.mu.Lock()
	if a.done == nil {
		a.done = map[[2]int64]int{}
	}
	a.done[[2]int64{eventID, userID}]++
	cur, ok := a.tokens[userID]
	if ok && !admission.IsZero() && !cur.exp.Equal(admission) {
		a.mu.Unlock()
		return nil // a newer admission than the one that is done
	}
	delete(a.tokens, userID) // a fan who comes back is admitted afresh
	a.mu.Unlock()
	return a.end(ctx, eventID, userID, "done")
}

// admit makes the admission that ends at exp the fan's live one.
func (a *recordingAdmissions) admit(ctx context.Context, eventID, userID int64, exp time.Time) error {
	return a.redis.Do(ctx, a.redis.B().Zadd().Key(salekeys.Active(a.prefix, eventID)).
		ScoreMember().ScoreMember(float64(exp.UnixMilli()), fmt.Sprint(userID)).Build()).Error()
}

// end ends the fan's admission for reason why, as done, a timeout or an
// abandoned place do; a leave just ends it.
func (a *recordingAdmissions) end(ctx context.Context, eventID, userID int64, why string) error {
	uid := fmt.Sprint(userID)
	if why == "" {
		why = "left" // as the waiting room records a leave
	}
	cmds := rueidis.Commands{
		a.redis.B().Zrem().Key(salekeys.Active(a.prefix, eventID)).Member(uid).Build(),
		a.redis.B().Hset().Key(salekeys.Ended(a.prefix, eventID)).FieldValue().FieldValue(uid, why).Build(),
	}
	for _, r := range a.redis.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

func (a *recordingAdmissions) ReportHealth(_ context.Context, p99 time.Duration, errorRate float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reports = append(a.reports, p99.Seconds(), errorRate)
	return nil
}

func (a *recordingAdmissions) doneCount(eventID, userID int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done[[2]int64{eventID, userID}]
}

// harness is one booker on its own database and Redis prefix, with an event
// on sale.
type harness struct {
	t     testing.TB
	svc   *Service
	pool  *pgxpool.Pool
	dbURL string // of the booker's pool, without its pool settings
	// direct is a pool on the test's database that never goes through
	// pgProxy, for setting up and checking while the booker's is cut.
	direct  *pgxpool.Pool
	pgProxy *testenv.Proxy // between the booker and Postgres, with harnessOptions.pgProxy
	redis   rueidis.Client
	prefix  string
	ring    *tokens.Ring
	adm     *recordingAdmissions
	clock   *testenv.Clock
	eventID int64
	seats   int
	url     string // of the HTTP server, once started
}

type harnessOptions struct {
	seats     int
	poolConns int
	maxPerFan int
	cfg       func(*Config)
	redis     rueidis.Client // instead of the shared Redis (e.g. through a proxy)
	layout    *catalog.Layout
	realClock bool // the wall clock instead of one the test moves
	// pgProxy puts the booker's Postgres connections behind a proxy the
	// test can cut (harness.pgProxy).
	pgProxy bool
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.seats == 0 {
		o.seats = 200
	}
	if o.poolConns == 0 {
		o.poolConns = 8
	}
	url, setupPool := testenv.Postgres(t)
	rc, prefix := testenv.Redis(t)
	if o.redis != nil {
		rc = o.redis
	}
	ctx := context.Background()
	var proxy *testenv.Proxy
	if o.pgProxy {
		url, proxy = testenv.ProxyPostgres(t, url)
	}
	pool, err := database.Open(ctx, url+fmt.Sprintf("&pool_max_conns=%d", o.poolConns))
	if err != nil {
		t.Fatalf("opening pool: %v", err)
	}
	t.Cleanup(pool.Close)
	store := catalog.NewStore(setupPool)
	var eventID int64
	if o.layout != nil {
		venue, _, err := store.EnsureVenue(ctx, catalog.Venue{Slug: "test-venue", Name: "Test venue", City: "Leeds", Timezone: "Europe/London", Layout: *o.layout})
		if err != nil {
			t.Fatalf("seeding venue: %v", err)
		}
		ev, err := store.EnsureEvent(ctx, catalog.EventSpec{VenueID: venue, Slug: "test-event", Name: "Test event",
			StartsAt: time.Now().Add(30 * 24 * time.Hour), SaleOpensAt: time.Now().Add(-time.Hour), MaxTicketsPerFan: 10})
		if err != nil {
			t.Fatalf("seeding event: %v", err)
		}
		eventID, o.seats = ev.ID, ev.Seats
	} else {
		r, err := store.SeedGrid(ctx, "grid-test", o.seats, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatalf("seeding event: %v", err)
		}
		eventID = r.EventID
	}
	if o.maxPerFan > 0 {
		if _, err := setupPool.Exec(ctx, `UPDATE events SET max_tickets_per_fan = $2 WHERE id = $1`, eventID, o.maxPerFan); err != nil {
			t.Fatal(err)
		}
	}
	key, err := tokens.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HoldAttempts = 100000 // the tests of the limit set their own
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	clk := testenv.NewClock(time.Now())
	now := clk.Now
	if o.realClock {
		now = time.Now
	}
	adm := &recordingAdmissions{redis: rc, prefix: prefix}
	svc, err := New(cfg, Deps{Pool: pool, Redis: rc, Prefix: prefix, Tokens: ring, Admissions: adm,
		Log: zerolog.Nop(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, svc: svc, pool: pool, dbURL: url, direct: setupPool, pgProxy: proxy, redis: rc, prefix: prefix, ring: ring, adm: adm, clock: clk, eventID: eventID, seats: o.seats}
}

// users inserts n fans and returns their ids.
func (h *harness) users(n int) []int64 {
	h.t.Helper()
	rows, err := h.pool.Query(context.Background(), `INSERT INTO users (email, name, password_hash)
		SELECT 'fan' || g || '-' || md5(random()::text) || '@example.com', 'Fan ' || g, 'x' FROM generate_series(1, $1) g RETURNING id`, n)
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			h.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// admission admits the fan, as the waiting room would, and returns their
// admission token: the same one while the admission lasts, a fresh
// admission after it ended.
func (h *harness) admission(userID int64) string {
	h.t.Helper()
	a := h.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.tokens[userID]; ok && cur.exp.After(h.svc.now()) {
		return cur.token
	}
	tok, adm, err := h.ring.IssueAdmission(userID, h.eventID, 10*time.Minute, h.svc.now())
	if err != nil {
		h.t.Fatal(err)
	}
	// The token's expiry is whole seconds; the admission's is the same.
	exp := adm.ExpiresAt.Truncate(time.Second)
	if err := a.admit(context.Background(), h.eventID, userID, exp); err != nil {
		h.t.Fatal(err)
	}
	if a.tokens == nil {
		a.tokens = map[int64]admitted{}
	}
	a.tokens[userID] = admitted{tok, exp}
	return tok
}

func (h *harness) access(userID int64) string {
	h.t.Helper()
	tok, _, err := h.ring.IssueAccess(userID, tokens.RoleFan, time.Hour, h.svc.now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// serve starts the booker's routes on a loopback listener.
func (h *harness) serve() string {
	h.t.Helper()
	// A short shutdown: the shared client keeps idle connections open,
	// which a graceful shutdown would otherwise wait for.
	srv := httpapi.NewServer(httpapi.Options{MaxBodyBytes: 64 << 10, ShutdownTimeout: 100 * time.Millisecond}, zerolog.Nop())
	h.svc.Routes(srv.Router)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	h.t.Cleanup(func() {
		cancel()
		<-done
	})
	h.url = "http://" + ln.Addr().String()
	return h.url
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

var testClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 60 * time.Second}

// call sends one request; key and body are optional.
func (h *harness) call(method, path, token, key, body string) reply {
	h.t.Helper()
	r, err := h.do(method, path, token, key, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) do(method, path, token, key, body string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func (h *harness) holdPath() string { return fmt.Sprintf("/api/v1/events/%d/holds", h.eventID) }

// holdSeats asks for seats over HTTP as user.
func (h *harness) holdSeats(user int64, key string, seats ...int) reply {
	h.t.Helper()
	b, _ := json.Marshal(map[string]any{"seat_ids": seats})
	return h.call("POST", h.holdPath(), h.admission(user), key, string(b))
}

// checkInvariants proves in SQL what the booker promises, whatever happened:
// no seat in two live holds or orders, no more sold than exist, every hold
// all-or-nothing, seat statuses matching their holds and tickets, and fan
// counts matching their live seats within the limit.
func checkInvariants(t testing.TB, pool *pgxpool.Pool, eventID int64) {
	t.Helper()
	ctx := context.Background()
	checks := []struct{ name, sql string }{
		{"a seat with two live tickets", `SELECT count(*) FROM (SELECT seat_no FROM tickets WHERE event_id = $1 AND canceled_at IS NULL GROUP BY seat_no HAVING count(*) > 1) x`},
		{"a seat in two live holds or orders", `SELECT count(*) FROM (
			SELECT s.seat_no FROM holds h CROSS JOIN unnest(h.seat_nos) AS s(seat_no)
			LEFT JOIN orders o ON o.hold_id = h.id
			WHERE h.event_id = $1 AND (h.status = 'active' OR (h.status = 'confirmed' AND o.status = 'confirmed'))
			GROUP BY s.seat_no HAVING count(*) > 1) x`},
		{"more seats sold than the event has", `SELECT count(*) FROM events e WHERE e.id = $1 AND
			(SELECT count(*) FROM seats WHERE event_id = $1 AND status = 'sold') > e.capacity`},
		{"a hold that is not all-or-nothing", `SELECT count(*) FROM holds h LEFT JOIN orders o ON o.hold_id = h.id
			WHERE h.event_id = $1 AND (cardinality(h.seat_nos) <> h.seat_count OR
			(h.status = 'active' AND (SELECT count(*) FROM seats s WHERE s.hold_id = h.id AND s.status = 'held') <> h.seat_count) OR
			(h.status = 'confirmed' AND o.status = 'confirmed' AND (SELECT count(*) FROM seats s WHERE s.hold_id = h.id AND s.status = 'sold') <> h.seat_count) OR
			(h.status = 'confirmed' AND o.status = 'confirmed' AND (SELECT count(*) FROM tickets k WHERE k.order_id = o.id AND k.canceled_at IS NULL) <> h.seat_count) OR
			(h.status IN ('released', 'expired') AND EXISTS (SELECT 1 FROM seats s WHERE s.hold_id = h.id)))`},
		{"a held seat without its active hold", `SELECT count(*) FROM seats s LEFT JOIN holds h ON h.id = s.hold_id
			WHERE s.event_id = $1 AND s.status = 'held' AND (h.status IS DISTINCT FROM 'active' OR NOT s.seat_no = ANY(h.seat_nos))`},
		{"a sold seat without its live ticket", `SELECT count(*) FROM seats s WHERE s.event_id = $1 AND s.status = 'sold' AND NOT EXISTS (
			SELECT 1 FROM tickets k JOIN orders o ON o.id = k.order_id WHERE k.event_id = s.event_id AND k.seat_no = s.seat_no
			AND k.canceled_at IS NULL AND o.hold_id = s.hold_id)`},
		{"a live ticket on a seat that is not sold", `SELECT count(*) FROM tickets k JOIN seats s USING (event_id, seat_no)
			WHERE k.event_id = $1 AND k.canceled_at IS NULL AND s.status <> 'sold'`},
		{"a fan count that does not match live seats", `WITH live AS (
				SELECT h.user_id, count(*) AS n FROM seats s JOIN holds h ON h.id = s.hold_id WHERE s.event_id = $1 GROUP BY h.user_id),
			fans AS (SELECT user_id, tickets FROM fan_tickets WHERE event_id = $1)
			SELECT count(*) FROM fans FULL JOIN live USING (user_id) WHERE coalesce(fans.tickets, 0) <> coalesce(live.n, 0)`},
		{"a fan over the limit", `SELECT count(*) FROM fan_tickets f JOIN events e ON e.id = f.event_id
			WHERE f.event_id = $1 AND f.tickets > e.max_tickets_per_fan`},
	}
	for _, c := range checks {
		var n int
		if err := pool.QueryRow(ctx, c.sql, eventID).Scan(&n); err != nil {
			t.Fatalf("invariant check %q: %v", c.name, err)
		}
		if n != 0 {
			t.Errorf("invariant broken: %s (%d found)", c.name, n)
		}
	}
}

// seatStatus counts seats by status.
func seatStatus(t testing.TB, pool *pgxpool.Pool, eventID int64) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT status, count(*) FROM seats WHERE event_id = $1 GROUP BY status`, eventID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func jsonBody(v any) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.String()
}

func testenvEventually(t testing.TB, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustEvent(t testing.TB, h *harness) *eventInfo {
	t.Helper()
	ev, err := h.svc.events.get(context.Background(), h.eventID)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func itoa(i int) string { return fmt.Sprint(i) }

func (h *harness) rawPost(path, token, key, contentType, body string) (reply, error) {
	req, err := http.NewRequest("POST", h.url+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := testClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}
