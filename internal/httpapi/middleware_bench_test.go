package httpapi

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// BenchmarkMiddleware is the edge's cost on every request: request id,
// route lookup, metrics. Compare with BenchmarkBareHandler in the same run.
func BenchmarkMiddleware(b *testing.B) {
	s := NewServer(Options{MaxBodyBytes: 1024}, zerolog.Nop())
	s.Router.GET("/api/v1/events/{id}/queue", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{}`) })
	h := s.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/v1/events/1/queue")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		h(&ctx)
	}
}

func BenchmarkBareHandler(b *testing.B) {
	h := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{}`) }
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/v1/events/1/queue")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		h(&ctx)
	}
}
