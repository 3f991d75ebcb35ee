// Package loop runs the services' background work on a fixed interval:
// sweeps, snapshots, health and figures. One way to write it, so each task
// is only its body.
package loop

import (
	"context"
	"time"
)

// Every calls f once per interval until ctx ends, the first time after one
// interval. It returns nil: a background loop ends when its service stops.
func Every(ctx context.Context, interval time.Duration, f func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		f(ctx)
	}
}

// Now is Every with a first call at once.
func Now(ctx context.Context, interval time.Duration, f func(context.Context)) error {
	f(ctx)
	return Every(ctx, interval, f)
}

// Sleep waits d, or less when ctx ends first, and says whether ctx is
// still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
