package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// split is a deployment of the real program in this process, as an operator
// runs one past a single box: 'all' (the gateway, a booker, the notifier and
// the embedded broker) and a second 'booker' on its own port, over one
// database and Redis prefix, with one event on sale.
type split struct {
	t       *testing.T
	gateway string   // base URL of the gateway
	bookers []string // base URLs of the two bookers
	pool    *pgxpool.Pool
	ring    *tokens.Ring
	event   int64
	ops     string // an ops access token
	client  *http.Client
	keys    atomic.Int64
}

// newSplit starts the deployment with env on top of the test world's, and
// an event of seats seats whose sale opened a minute ago.
func newSplit(t *testing.T, seats int, env map[string]string) *split {
	t.Helper()
	w := newWorld(t)
	w.env["TICKETVELO_SEED"] = "false"
	w.env["TICKETVELO_BROKER_ADDR"] = testenv.FreeAddr(t)
	w.env["TICKETVELO_LIMIT_JOIN_IP"] = "off" // every fan of the test comes from 127.0.0.1
	for k, v := range env {
		w.env[k] = v
	}
	w.start(t, "all")
	w.waitReady(t, 30*time.Second)
	second := testenv.FreeAddr(t)
	w.startWith(t, map[string]string{"TICKETVELO_ADDR": second, "KAFKA_BROKERS": w.env["TICKETVELO_BROKER_ADDR"]}, "booker")
	waitReady(t, "http://"+second, 30*time.Second)

	ctx := context.Background()
	pool, err := database.Open(ctx, w.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ev, err := catalog.NewStore(pool).SeedGrid(ctx, "split", seats, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.LoadOrCreate(filepath.Join(w.env["TICKETVELO_DATA_DIR"], "keys.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s := &split{t: t, gateway: w.base, bookers: []string{w.base, "http://" + second}, pool: pool, ring: ring, event: ev.EventID,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
	s.ops = s.accounts(1, tokens.RoleOps)[0].token
	return s
}

// account is a user and their access token.
type account struct {
	id    int64
	token string
}

// accounts makes n accounts of role in the database and signs their access
// tokens, as a login would.
func (s *split) accounts(n int, role string) []account {
	s.t.Helper()
	rows, err := s.pool.Query(context.Background(), `INSERT INTO users (email, name, password_hash, role)
		SELECT 'u' || g || '-' || md5(random()::text) || '@example.com', 'Fan ' || g, 'x', $2 FROM generate_series(1, $1) g
		RETURNING id`, n, role)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []account
	for rows.Next() {
		var a account
		if err := rows.Scan(&a.id); err != nil {
			s.t.Fatal(err)
		}
		if a.token, _, err = s.ring.IssueAccess(a.id, role, time.Hour, time.Now()); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// answer is an HTTP answer with its JSON body.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// code is the error code of an error answer.
func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// reason is details.reason of an error answer.
func (a answer) reason() string {
	e, _ := a.body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	r, _ := d["reason"].(string)
	return r
}

// call sends one request; mutating booker calls get a fresh Idempotency-Key.
func (s *split) call(method, url, token string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Idempotency-Key", "k"+strconv.FormatInt(s.keys.Add(1), 10))
	res, err := s.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a, err
}

func (s *split) must(method, url, token string, body any) answer {
	s.t.Helper()
	a, err := s.call(method, url, token, body)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// setAdmission sets the event's rate and cap through the ops API.
func (s *split) setAdmission(rate float64, maxActive int) {
	s.t.Helper()
	a := s.must("PUT", fmt.Sprintf("%s/api/v1/admin/events/%d/admission", s.gateway, s.event), s.ops,
		map[string]any{"rate_per_second": rate, "max_active": maxActive, "paused": false, "auto": false})
	if a.status != 200 {
		s.t.Fatalf("setting admission: %d %s", a.status, a.raw)
	}
}

func (s *split) queue() string { return fmt.Sprintf("%s/api/v1/events/%d/queue", s.gateway, s.event) }

// join puts the fan in the queue.
func (s *split) join(fan account) error {
	a, err := s.call("POST", s.queue(), fan.token, nil)
	if err == nil && a.status != 201 && a.status != 200 {
		err = fmt.Errorf("join: %d %s", a.status, a.raw)
	}
	return err
}

// admitted polls the fan's place until they are admitted, and returns their
// admission token.
func (s *split) admitted(ctx context.Context, fan account) (string, error) {
	for {
		a, err := s.call("GET", s.queue(), fan.token, nil)
		if err != nil {
			return "", err
		}
		if a.status != 200 {
			return "", fmt.Errorf("poll: %d %s", a.status, a.raw)
		}
		if tok, _ := a.body["admission_token"].(string); tok != "" {
			return tok, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("not admitted: %w (last %s)", ctx.Err(), a.raw)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mustAdmit joins the fan and waits for their admission token.
func (s *split) mustAdmit(fan account) string {
	s.t.Helper()
	if err := s.join(fan); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := s.admitted(ctx, fan)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// hold asks booker b for seats with an admission token.
func (s *split) hold(b int, admission string, seats ...int) (answer, error) {
	return s.call("POST", fmt.Sprintf("%s/api/v1/events/%d/holds", s.bookers[b], s.event), admission, map[string]any{"seat_ids": seats})
}

func (s *split) mustHold(b int, admission string, seats ...int) answer {
	s.t.Helper()
	a, err := s.hold(b, admission, seats...)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// holdID is the id of a created hold.
func holdID(a answer) string {
	h, _ := a.body["hold"].(map[string]any)
	id, _ := h["id"].(string)
	return id
}

// confirm pays for a hold at booker b with the fan's access token.
func (s *split) confirm(b int, fan account, hold string) (answer, error) {
	return s.call("POST", s.bookers[b]+"/api/v1/holds/"+hold+"/confirm", fan.token, map[string]string{"payment_token": "tok_visa"})
}
