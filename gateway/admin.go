package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

type settingsJSON struct {
	RatePerSecond float64 `json:"rate_per_second"`
	MaxActive     int     `json:"max_active"`
	Paused        bool    `json:"paused"`
	Auto          bool    `json:"auto"`
}

// settingsBody is a PUT of the settings: every field is required, so a
// client that forgets one does not silently reset it.
type settingsBody struct {
	RatePerSecond *float64 `json:"rate_per_second"`
	MaxActive     *int     `json:"max_active"`
	Paused        *bool    `json:"paused"`
	Auto          *bool    `json:"auto"`
}

func (g *Gateway) getAdmission(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	s, err := g.d.Room.Settings(ctx, ev.ID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, settingsJSON(s))
	return nil
}

func (g *Gateway) putAdmission(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	var b settingsBody
	if err := httpapi.DecodeJSON(ctx, &b); err != nil {
		return err
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"rate_per_second", b.RatePerSecond == nil}, {"max_active", b.MaxActive == nil}, {"paused", b.Paused == nil}, {"auto", b.Auto == nil}} {
		if f.missing {
			return apperr.New(apperr.Invalid, "invalid_field", "%s is required: send all four settings", f.name).With(map[string]any{"field": f.name})
		}
	}
	s := admission.Settings{RatePerSecond: *b.RatePerSecond, MaxActive: *b.MaxActive, Paused: *b.Paused, Auto: *b.Auto}
	if err := g.d.Room.SetSettings(ctx, ev.ID, s); err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, settingsJSON(s))
	return nil
}

type statsJSON struct {
	State          string   `json:"state"`
	QueueLength    int64    `json:"queue_length"`
	PrequeueLength int64    `json:"prequeue_length"`
	AdmittedTotal  int64    `json:"admitted_total"`
	Active         int64    `json:"active"`
	RatePerSecond  float64  `json:"rate_per_second"`
	MeasuredRate   float64  `json:"measured_rate_per_second"`
	MaxActive      int      `json:"max_active"`
	Paused         bool     `json:"paused"`
	SoldOut        bool     `json:"sold_out"`
	Auto           bool     `json:"auto"`
	Abandoned      int64    `json:"abandoned"`
	ETABackSeconds *float64 `json:"eta_back_seconds"` // null while paused or sold out
	DrawSeed       string   `json:"draw_seed"`
}

func (g *Gateway) stats(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	o, err := g.d.Room.Overview(ctx, ev.ID, g.d.Now())
	if err != nil {
		return err
	}
	s := statsJSON{
		State: roomState(o), QueueLength: o.QueueLength, PrequeueLength: o.PrequeueLength,
		AdmittedTotal: o.AdmittedTotal, Active: o.Active, RatePerSecond: o.Settings.RatePerSecond,
		MeasuredRate: float64(int64(o.MeasuredRate*100+0.5)) / 100, MaxActive: o.Settings.MaxActive,
		Paused: o.Settings.Paused, SoldOut: o.SoldOut, Auto: o.Settings.Auto, Abandoned: o.Abandoned,
	}
	if o.Draw != admission.DrawPending {
		s.DrawSeed = o.Seed
	}
	if waiting := o.QueueLength + o.PrequeueLength; waiting == 0 {
		zero := 0.0
		s.ETABackSeconds = &zero
	} else if eta, ok := o.ETA(waiting - 1); ok {
		secs := eta.Seconds()
		s.ETABackSeconds = &secs
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, s)
	return nil
}
