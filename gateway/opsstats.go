package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// opsHistoryJSON is the ops console's charts: the event's last 15 minutes.
type opsHistoryJSON struct {
	IntervalSeconds int             `json:"interval_seconds"`
	Samples         []opsSampleJSON `json:"samples"`
}

// opsSampleJSON is one sample; rates are per second over its interval, and
// null where nobody reported the figure for it.
type opsSampleJSON struct {
	At               time.Time `json:"at"`
	QueueLength      *int64    `json:"queue_length"`
	SeatsLeft        *int64    `json:"seats_left"`
	Admitted         *float64  `json:"admitted_per_second"`
	HoldsCreated     *float64  `json:"holds_created_per_second"`
	HoldsConflict    *float64  `json:"holds_conflict_per_second"`
	Orders           *float64  `json:"orders_per_second"`
	BookerP99Ms      *float64  `json:"booker_p99_ms"`
	BookerErrorRatio *float64  `json:"booker_error_ratio"`
}

func (g *Gateway) opsHistory(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	samples, err := g.d.Room.OpsHistory(ctx, ev.ID, g.d.Now())
	if err != nil {
		return err
	}
	out := opsHistoryJSON{IntervalSeconds: salekeys.OpsInterval, Samples: make([]opsSampleJSON, len(samples))}
	for i, s := range samples {
		out.Samples[i] = opsSampleOf(s)
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, out)
	return nil
}

func opsSampleOf(s admission.OpsSample) opsSampleJSON {
	j := opsSampleJSON{At: s.Start, QueueLength: s.QueueLength, SeatsLeft: s.SeatsLeft}
	rate := func(n int64) *float64 {
		v := float64(n) / salekeys.OpsInterval
		return &v
	}
	if s.Reported {
		j.Admitted, j.HoldsCreated, j.HoldsConflict, j.Orders = rate(s.Admitted), rate(s.HoldsCreated), rate(s.HoldsConflict), rate(s.Orders)
	}
	if s.BookerRequests > 0 {
		ms := float64(s.BookerP99.Microseconds()) / 1000
		ratio := float64(s.BookerErrors) / float64(s.BookerRequests)
		j.BookerP99Ms, j.BookerErrorRatio = &ms, &ratio
	}
	return j
}
