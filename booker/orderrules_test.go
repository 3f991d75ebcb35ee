package booker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/catalog"
)

// The order rules over fakes of both stores: what each of the Postgres
// store's verdicts means to the fan, without a database, Redis or HTTP.

// fakeOrderStore answers the calls a test sets; any other call panics
// (the embedded interface is nil).
type fakeOrderStore struct {
	orderPostgres
	release pgstore.Release
	order   pgstore.OrderResult
	err     error
}

func (f *fakeOrderStore) ReleaseHold(context.Context, int64, string) (pgstore.Hold, pgstore.Release, error) {
	return pgstore.Hold{ID: "h", EventID: 1, Seats: []int{3}}, f.release, f.err
}

func (f *fakeOrderStore) Order(context.Context, *pgstore.OrderDraft) (pgstore.OrderResult, error) {
	return f.order, f.err
}

// clearedBits records the bits the rules cleared.
type clearedBits struct{ seats []int }

func (c *clearedBits) SetBits(_ context.Context, _ int64, seats []int, _ bool, _ *redisstore.Write) error {
	c.seats = append(c.seats, seats...)
	return nil
}

// doneAdmissions is a waiting room that takes every report.
type doneAdmissions struct{ done int }

func (a *doneAdmissions) Done(context.Context, int64, int64, time.Time) error { a.done++; return nil }
func (a *doneAdmissions) ReportHealth(context.Context, time.Duration, float64) error {
	return nil
}

func newFakeOrderRules(pg *fakeOrderStore) (*orderRules, *clearedBits, *doneAdmissions) {
	bits, adm := &clearedBits{}, &doneAdmissions{}
	return &orderRules{pg: pg, redis: bits, expiry: &sweeper{redis: bits, admissions: adm, stats: newCounters(), log: zerolog.Nop()},
		cfg: DefaultConfig(), storeTimeout: time.Second, now: time.Now, log: zerolog.Nop()}, bits, adm
}

func TestReleaseVerdicts(t *testing.T) {
	cases := []struct {
		release pgstore.Release
		err     error
		cleared bool
	}{
		{pgstore.Released, nil, true},
		{pgstore.ReleaseEnded, nil, false},
		{pgstore.ReleaseConfirmed, errHoldNotActive, false},
		{pgstore.ReleaseNotYours, errNotYourHold, false},
		{pgstore.ReleaseNoHold, errHoldNotFound, false},
	}
	for _, c := range cases {
		o, bits, _ := newFakeOrderRules(&fakeOrderStore{release: c.release})
		err := o.releaseHold(context.Background(), 1, "h")
		if !errors.Is(err, c.err) || c.err == nil && err != nil {
			t.Errorf("release %d: got %v, want %v", c.release, err, c.err)
		}
		if cleared := len(bits.seats) > 0; cleared != c.cleared {
			t.Errorf("release %d: cleared bits %v, want %v", c.release, bits.seats, c.cleared)
		}
	}
}

func TestOrderVerdicts(t *testing.T) {
	ev := eventFromLayout(catalog.GridLayout(20), 6)
	hold := pgstore.Hold{ID: "h", EventID: ev.ID, UserID: 1, Status: "active", Seats: []int{1, 2}, TotalCents: 200}
	cases := []struct {
		name    string
		result  pgstore.OrderResult
		err     error
		status  int
		code    string
		wantErr error
	}{
		{"placed", pgstore.OrderResult{Verdict: pgstore.OrderPlaced}, nil, fasthttp.StatusCreated, "", nil},
		{"the unique ticket index refused", pgstore.OrderResult{Verdict: pgstore.OrderSeatSold}, nil, fasthttp.StatusConflict, "seat_taken", nil},
		{"the hold was confirmed meanwhile", pgstore.OrderResult{Verdict: pgstore.OrderHoldGone, HoldStatus: "confirmed"}, nil, fasthttp.StatusConflict, "hold_not_active", nil},
		{"the hold expired meanwhile", pgstore.OrderResult{Verdict: pgstore.OrderHoldGone, HoldStatus: "expired"}, nil, fasthttp.StatusGone, "hold_expired", nil},
		{"the hold's status unknown", pgstore.OrderResult{Verdict: pgstore.OrderHoldGone}, nil, fasthttp.StatusGone, "hold_expired", nil},
		{"another request answered the key", pgstore.OrderResult{}, pgstore.ErrClaimLost, 0, "", errClaimLost},
	}
	for _, c := range cases {
		o, _, adm := newFakeOrderRules(&fakeOrderStore{order: c.result, err: c.err})
		a, err := o.placeOrder(context.Background(), ev, hold, "k", "pay", "req-1")
		switch {
		case c.wantErr != nil && !errors.Is(err, c.wantErr), c.wantErr == nil && err != nil:
			t.Errorf("%s: got error %v, want %v", c.name, err, c.wantErr)
		case a.status != c.status || c.code != "" && !containsCode(a.body, c.code):
			t.Errorf("%s: got %d %s, want %d %s", c.name, a.status, a.body, c.status, c.code)
		}
		if placed := c.result.Verdict == pgstore.OrderPlaced; (adm.done == 1) != placed {
			t.Errorf("%s: the admission was ended %d times, want it ended only by a placed order", c.name, adm.done)
		}
	}
}

// containsCode says whether an error answer's body carries code.
func containsCode(body []byte, code string) bool {
	return reply{body: body}.code() == code
}
