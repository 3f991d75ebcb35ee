package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// EventPath is an event's page, GET /api/v1/events/{id}.
func EventPath(eventID int64) string { return "/api/v1/events/" + strconv.FormatInt(eventID, 10) }

// QueuePath is an event's waiting room: POST joins, GET polls, DELETE
// leaves.
func QueuePath(eventID int64) string { return EventPath(eventID) + "/queue" }

// AdmissionPath is an event's admission settings, for ops.
func AdmissionPath(eventID int64) string {
	return "/api/v1/admin/events/" + strconv.FormatInt(eventID, 10) + "/admission"
}

// Admission is an event's admission settings (docs/API.md).
type Admission struct {
	RatePerSecond float64 `json:"rate_per_second"`
	MaxActive     int     `json:"max_active"`
	Paused        bool    `json:"paused"`
	Auto          bool    `json:"auto"`
}

// SetAdmission sets an event's admission with an ops account's access
// token; any answer but 200 is an error.
func (c *Client) SetAdmission(ctx context.Context, eventID int64, opsToken string, a Admission) error {
	res, err := c.Do(ctx, Request{Method: "PUT", Path: AdmissionPath(eventID), Token: opsToken, Body: a}, nil)
	if err != nil {
		return fmt.Errorf("setting the admission of event %d: %w", eventID, err)
	}
	if res.Status != 200 {
		return fmt.Errorf("setting the admission of event %d: status %d %s", eventID, res.Status, res.Code)
	}
	return nil
}

// Event is what the tools read of an event's page.
type Event struct {
	Sections    []Section `json:"sections"`
	WaitingRoom struct {
		// State is prequeue, open or paused.
		State string `json:"state"`
	} `json:"waiting_room"`
}

// Section is one section of an event's venue.
type Section struct {
	Name      string `json:"name"`
	SeatsLeft int    `json:"seats_left"`
}

// Event reads an event's page, as a fan's browser does (no token). The
// event is read only from a 200 answer.
func (c *Client) Event(ctx context.Context, eventID int64) (Event, Result, error) {
	var page struct {
		Event Event `json:"event"`
	}
	res, err := c.Do(ctx, Request{Method: "GET", Path: EventPath(eventID)}, &page)
	return page.Event, res, err
}

// Metrics reads a process's /metrics: each sample's value by its series
// (name and labels, as written), any answer but 200 being an error.
func (c *Client) Metrics(ctx context.Context) (map[string]float64, error) {
	var series map[string]float64
	res, err := c.exchange(ctx, Request{Method: "GET", Path: "/metrics"}, func(res Result, body []byte) error {
		if res.Status == 200 {
			series = ParseMetrics(bytes.NewReader(body))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	if res.Status != 200 {
		return nil, fmt.Errorf("reading metrics: GET %s/metrics answered %d", c.base, res.Status)
	}
	return series, nil
}

// ParseMetrics reads the samples of Prometheus's text format: each value
// by its series. Comments, and lines that are not a series and a number,
// are passed over.
func ParseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
