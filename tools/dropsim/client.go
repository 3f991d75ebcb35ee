package dropsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// client is the fans' shared view of the API: the calls, and the event
// page that all of them watch.
type client struct {
	*apiclient.Client

	mu         sync.Mutex
	sectionsAt time.Time
	sectionsOf []string
}

func newClient(base string, conns int) *client {
	return &client{Client: apiclient.New(base, apiclient.Options{Conns: max(64, min(conns, 4096))})}
}

// sections lists the event's sections with seats left, refreshed at most
// once a second for all fans together, as a busy event page would be.
func (c *client) sections(ctx context.Context, eventID int64) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.sectionsAt) < time.Second && c.sectionsOf != nil {
		return c.sectionsOf, nil
	}
	ev, res, err := c.Event(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if res.Status == 503 {
		return nil, &unavailableError{retryAfter: res.RetryAfter}
	}
	if res.Status != 200 {
		return nil, fmt.Errorf("event %d: status %d", eventID, res.Status)
	}
	// A fresh slice: fans may still be reading the previous one.
	var open []string
	for _, s := range ev.Sections {
		if s.SeatsLeft > 0 {
			open = append(open, s.Name)
		}
	}
	c.sectionsOf = open
	c.sectionsAt = time.Now()
	return c.sectionsOf, nil
}

// unavailableError is a 503: try again after retryAfter.
type unavailableError struct{ retryAfter time.Duration }

func (e *unavailableError) Error() string { return "unavailable (503)" }
