package database

import (
	"context"
	"errors"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// errPoolWait is the cause of an acquire that ran out of time. The caller
// itself gets context.DeadlineExceeded from the pool, which IsUnavailable
// knows; the cause tells the timeout apart from the caller's own deadline
// for the metric.
var errPoolWait = errors.New("no Postgres connection came free within the acquire timeout")

var (
	acquireSeconds = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_db_acquire_seconds", "Time a request waited for a Postgres connection from the pool."),
		[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5})
	acquireTimeouts = metrics.NewCounter(promtext.Help("ticketvelo_db_acquire_timeouts_total", "Waits for a Postgres connection that ran out of time."))
)

// acquireBound bounds every wait for a pool connection. pgxpool has no
// acquire timeout of its own: a call waits as long as its context lets it,
// and a request whose context allows seconds (or a loop whose context never
// ends) queues that long behind a busy or broken pool. The pool hands its
// acquire tracer the caller's context and acquires with the one the tracer
// returns, so this is the one place every Query, Exec, Begin and
// SendBatch waits for a connection. It also times the waits, which is how
// a pool too small for the load shows.
type acquireBound struct {
	wait time.Duration
}

var (
	_ pgxpool.AcquireTracer = (*acquireBound)(nil)
	_ pgx.QueryTracer       = (*acquireBound)(nil)
)

type acquireKey struct{}

type acquireStart struct {
	at     time.Time
	cancel context.CancelFunc
}

func (a *acquireBound) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	ctx, cancel := context.WithTimeoutCause(ctx, a.wait, errPoolWait)
	return context.WithValue(ctx, acquireKey{}, acquireStart{at: time.Now(), cancel: cancel})
}

func (a *acquireBound) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, data pgxpool.TraceAcquireEndData) {
	st, ok := ctx.Value(acquireKey{}).(acquireStart)
	if !ok {
		return
	}
	acquireSeconds.UpdateDuration(st.at)
	if data.Err != nil && errors.Is(context.Cause(ctx), errPoolWait) {
		acquireTimeouts.Inc()
	}
	st.cancel()
}

// TraceQueryStart and TraceQueryEnd do nothing: the pool takes its acquire
// tracer from the connections' query tracer, so one must be there.
func (a *acquireBound) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (a *acquireBound) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
