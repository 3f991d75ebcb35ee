package booker

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

type seatMapJSON struct {
	EventID  int64     `json:"event_id"`
	AsOf     time.Time `json:"as_of"`
	Currency string    `json:"currency"`
	Sections []struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
		Rows []struct {
			Label string `json:"label"`
			Seats []struct {
				ID         int    `json:"id"`
				Number     int    `json:"number"`
				PriceCents int    `json:"price_cents"`
				Status     string `json:"status"`
				Accessible bool   `json:"accessible"`
			} `json:"seats"`
		} `json:"rows"`
	} `json:"sections"`
}

func (m seatMapJSON) statuses() map[int]string {
	out := map[int]string{}
	for _, s := range m.Sections {
		for _, r := range s.Rows {
			for _, seat := range r.Seats {
				out[seat.ID] = seat.Status
			}
		}
	}
	return out
}

// TestSeatMap: the map has the arena's layout, is served gzip-compressed
// with an ETag, follows holds and sales within a second, and ten thousand
// fans reading it cost Postgres a few snapshot reads, not one each.
func TestSeatMap(t *testing.T) {
	t.Parallel()
	arena := catalog.ArenaLayout()
	h := newHarness(t, harnessOptions{layout: &arena, realClock: true})
	h.serve()
	ctx, stop := context.WithCancel(context.Background())
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); _ = h.svc.snapshots.Run(ctx) }()
	t.Cleanup(func() { stop(); <-loopDone })
	path := fmt.Sprintf("/api/v1/events/%d/seats", h.eventID)

	r := h.call("GET", path, "", "", "")
	var m seatMapJSON
	r.decode(t, &m)
	st := m.statuses()
	if r.status != 200 || len(st) != 19920 || len(m.Sections) != 44 || m.Currency != "GBP" || m.Sections[0].Name != "Floor A" {
		t.Fatalf("map: got %d with %d seats in %d sections", r.status, len(st), len(m.Sections))
	}
	if seat := m.Sections[4].Rows[0].Seats[0]; !seat.Accessible || seat.PriceCents != 9900 {
		t.Errorf("first seat of section 101: got %+v, want accessible at 9900", seat)
	}

	// Compressed for clients that ask, and unchanged maps are 304.
	req, _ := http.NewRequest("GET", h.url+path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: %v, Content-Encoding %q", err, resp.Header.Get("Content-Encoding"))
	}
	plain, _ := io.ReadAll(zr)
	if !json.Valid(plain) || len(raw)*5 > len(plain) {
		t.Errorf("gzip body: %d bytes for %d of JSON, want valid JSON compressed at least 5x", len(raw), len(plain))
	}
	// The tag as sent, weakened by a proxy, or in a list: each is a 304.
	tag := resp.Header.Get("ETag")
	for _, inm := range []string{tag, "W/" + tag, `"old", ` + tag, "*"} {
		req, _ = http.NewRequest("GET", h.url+path, nil)
		req.Header.Set("If-None-Match", inm)
		if resp, err := testClient.Do(req); err != nil || resp.StatusCode != 304 {
			t.Errorf("If-None-Match %s: got %v %v, want 304", inm, resp.StatusCode, err)
		}
	}

	fans := h.users(2)
	held := h.holdSeats(fans[0], "a", 0, 1)
	var hold struct{ Hold holdJSON }
	held.decode(t, &hold)
	h.call("POST", "/api/v1/holds/"+hold.Hold.ID+"/confirm", h.access(fans[0]), "c", `{"payment_token":"tok_visa"}`)
	h.holdSeats(fans[1], "b", 2)
	// At most a second stale (plus the race detector's slowness).
	fresh := time.Second + 200*time.Millisecond
	if raceEnabled {
		fresh *= 5
	}
	testenv.Eventually(t, fresh, func() error {
		var m seatMapJSON
		h.call("GET", path, "", "", "").decode(t, &m)
		if st := m.statuses(); st[0] != "sold" || st[1] != "sold" || st[2] != "held" || st[3] != "available" {
			return fmt.Errorf("seats 0-3: %s %s %s %s, want sold sold held available", st[0], st[1], st[2], st[3])
		}
		return nil
	})

	// The status view: a letter per seat, from the same snapshot, with an
	// ETag of its own; a few kB on the wire for the whole arena.
	var status struct {
		EventID  int64     `json:"event_id"`
		AsOf     time.Time `json:"as_of"`
		Statuses string    `json:"statuses"`
	}
	testenv.Eventually(t, fresh, func() error {
		h.call("GET", path+"/status", "", "", "").decode(t, &status)
		if len(status.Statuses) < 4 || status.Statuses[:4] != "ssha" {
			return fmt.Errorf("status view of seats 0-3: %.4q, want ssha", status.Statuses)
		}
		return nil
	})
	if status.EventID != h.eventID || len(status.Statuses) != 19920 || strings.Trim(status.Statuses[4:], "a") != "" || status.AsOf.IsZero() {
		t.Errorf("status view: event %d, %d letters, as_of %s; want the arena's 19,920 seats, all but the 3 taken available", status.EventID, len(status.Statuses), status.AsOf)
	}
	req, _ = http.NewRequest("GET", h.url+path+"/status", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	statusTag := resp.Header.Get("ETag")
	t.Logf("status view of the arena: %d bytes gzipped (%d plain)", len(raw), len(status.Statuses)+90)
	if resp.Header.Get("Content-Encoding") != "gzip" || len(raw) > 2000 || statusTag == "" || statusTag == h.call("GET", path, "", "", "").header.Get("ETag") {
		t.Errorf("status view over gzip: %d bytes, Content-Encoding %q, ETag %q; want gzip under 2 kB with a tag of its own",
			len(raw), resp.Header.Get("Content-Encoding"), statusTag)
	}
	req, _ = http.NewRequest("GET", h.url+path+"/status", nil)
	req.Header.Set("If-None-Match", statusTag)
	if resp, err := testClient.Do(req); err != nil || resp.StatusCode != 304 {
		t.Errorf("status view with If-None-Match: got %v %v, want 304", resp.StatusCode, err)
	}
	if r := h.call("GET", "/api/v1/events/999999/seats/status", "", "", ""); r.status != 404 {
		t.Errorf("status view of an unknown event: %d, want 404", r.status)
	}

	// The ETag follows the seats, not the build: unchanged seats, same tag.
	r1 := h.call("GET", path, "", "", "")
	var r2 reply
	testenv.Eventually(t, 3*time.Second, func() error {
		r2 = h.call("GET", path, "", "", "")
		if string(r2.body) == string(r1.body) {
			return fmt.Errorf("no rebuild yet")
		}
		return nil
	})
	if e1, e2 := r1.header.Get("ETag"), r2.header.Get("ETag"); e1 == "" || e1 != e2 {
		t.Errorf("ETags of two builds of an unchanged map: %q and %q, want equal", e1, e2)
	}

	// Ten thousand fans at once, half of them polling with the tag.
	etag := r2.header.Get("ETag")
	before := h.svc.Stats().Transactions["snapshot"]
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for i := range 10000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", h.url+path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			if i%2 == 0 {
				req.Header.Set("If-None-Match", etag)
			}
			resp, err := testClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 && resp.StatusCode != 304 {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	reads := h.svc.Stats().Transactions["snapshot"] - before
	t.Logf("10,000 map reads in %s: %d snapshot reads of Postgres", took.Round(time.Millisecond), reads)
	if failures > 0 {
		t.Errorf("%d map reads failed", failures)
	}
	// One build per interval (500 ms) while the fans read, and no more.
	if limit := int64(took/(500*time.Millisecond)) + 2; reads > limit {
		t.Errorf("snapshot reads of Postgres: got %d in %s, want at most %d", reads, took, limit)
	}
}

// TestBestAvailable holds seats together in one row, nearest the centre,
// until the section has no run left.
func TestBestAvailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{seats: 80}) // section S1: two rows of 40
	h.serve()
	fans := h.users(40)
	got := map[int]bool{}
	for i := 0; ; i++ {
		r := h.call("POST", h.holdPath(), h.admission(fans[i]), "best", `{"section":"S1","quantity":3,"together":true}`)
		if r.status == 409 {
			if r.code() != "not_enough_seats" {
				t.Fatalf("full section: got %s, want not_enough_seats", r.body)
			}
			break
		}
		if r.status != 201 {
			t.Fatalf("best available %d: got %d %s", i, r.status, r.body)
		}
		var hold struct{ Hold holdJSON }
		r.decode(t, &hold)
		s := hold.Hold.Seats
		if len(s) != 3 || s[0].Row != s[2].Row || s[1].Number != s[0].Number+1 || s[2].Number != s[1].Number+1 {
			t.Fatalf("hold %d: got %+v, want three adjacent seats in one row", i, s)
		}
		if i == 0 && (s[0].Row != "1" || s[0].Number != 19) {
			t.Errorf("first pick: got row %s seats %d-%d, want row 1 seats 19-21 (the centre)", s[0].Row, s[0].Number, s[2].Number)
		}
		for _, seat := range s {
			if got[seat.ID] {
				t.Fatalf("seat %d picked twice", seat.ID)
			}
			got[seat.ID] = true
		}
	}
	if len(got) != 78 { // 13 runs of 3 in each row of 40
		t.Errorf("seats held: got %d, want 78", len(got))
	}
	if r := h.call("POST", h.holdPath(), h.admission(fans[39]), "apart", `{"section":"S1","quantity":2,"together":false}`); r.status != 201 {
		t.Errorf("the last two seats apart: got %d %s, want 201", r.status, r.body)
	}
	checkInvariants(t, h.pool, h.eventID)
}
