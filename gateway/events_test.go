package gateway_test

import (
	"fmt"
	"testing"
	"time"
)

func TestEventsListAndPage(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	opens := time.Now().Add(time.Hour).Truncate(time.Second)
	id := e.event(t, 1100, opens)

	list := e.call(t, "GET", "/api/v1/events", "", nil)
	events, _ := list.get("events").([]any)
	if list.status != 200 || len(events) != 1 {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	first := reply{body: events[0].(map[string]any)}
	if first.num("id") != float64(id) || first.num("seats_left") != 1100 || first.str("sale_state") != "upcoming" || first.get("sections") != nil {
		t.Fatalf("list entry: %v", first.body)
	}

	r := e.call(t, "GET", fmt.Sprintf("/api/v1/events/%d", id), "", nil)
	if r.status != 200 {
		t.Fatalf("event: %d %s", r.status, r.raw)
	}
	if got, _ := time.Parse(time.RFC3339, r.str("event", "sale_opens_at")); !got.Equal(opens) || r.str("event", "sale_opens_at")[19:] != "Z" {
		t.Fatalf("sale_opens_at %q, want %s in UTC", r.str("event", "sale_opens_at"), opens.UTC())
	}
	if r.str("event", "venue", "name") == "" || r.str("event", "currency") != "GBP" || r.num("event", "capacity") != 1100 {
		t.Fatalf("event: %s", r.raw)
	}
	sections, _ := r.get("event", "sections").([]any)
	if len(sections) != 2 {
		t.Fatalf("sections: %v", sections)
	}
	s1 := reply{body: sections[0].(map[string]any)}
	if s1.str("name") != "S1" || s1.num("capacity") != 1000 || s1.num("seats_left") != 1000 || s1.num("min_price_cents") != 5000 {
		t.Fatalf("section S1: %v", s1.body)
	}
	if r.str("event", "waiting_room", "state") != "prequeue" || r.num("event", "waiting_room", "queue_length") != 0 || r.get("event", "waiting_room", "draw_seed") != nil {
		t.Fatalf("waiting room before the opening: %v", r.get("event", "waiting_room"))
	}

	for _, path := range []string{"/api/v1/events/999999", "/api/v1/events/abc", "/api/v1/events/-1", "/api/v1/events/0"} {
		if r := e.call(t, "GET", path, "", nil); r.status != 404 || r.code() != "event_not_found" {
			t.Errorf("%s: %d %s, want 404 event_not_found", path, r.status, r.raw)
		}
	}
	if r := e.call(t, "POST", "/api/v1/events", "", map[string]any{}); r.status != 405 {
		t.Errorf("POST on the list: %d, want 405", r.status)
	}
}

func TestOpsCreateAnEventAndSetItsAdmission(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	ops := e.opsToken(t)
	e.event(t, 50, time.Now().Add(time.Hour)) // makes a venue

	venues := e.call(t, "GET", "/api/v1/admin/venues", ops, nil)
	list, _ := venues.get("venues").([]any)
	if venues.status != 200 || len(list) != 1 || list[0].(map[string]any)["timezone"] != "UTC" {
		t.Fatalf("venues: %d %s, want one venue in UTC (the grid's zone)", venues.status, venues.raw)
	}
	venueID := list[0].(map[string]any)["id"]
	starts := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	opens := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	body := map[string]any{"venue_id": venueID, "name": "Ops Night", "starts_at": starts.Format(time.RFC3339),
		"sale_opens_at": opens.Format(time.RFC3339), "max_tickets_per_fan": 4}
	r := e.call(t, "POST", "/api/v1/admin/events", ops, body)
	if r.status != 201 || r.str("event", "name") != "Ops Night" || r.num("event", "max_tickets_per_fan") != 4 || r.num("event", "seats_left") != 50 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id := int64(r.num("event", "id"))
	// It is listed at once.
	if got := e.call(t, "GET", fmt.Sprintf("/api/v1/events/%d", id), "", nil); got.status != 200 || got.str("event", "sale_state") != "open" {
		t.Fatalf("new event page: %d %s", got.status, got.raw)
	}

	bad := []struct {
		name  string
		edit  func(map[string]any)
		code  string
		field string
	}{
		{"bad time", func(b map[string]any) { b["starts_at"] = "tomorrow" }, "invalid_field", "starts_at"},
		{"sale after start", func(b map[string]any) { b["sale_opens_at"] = starts.Add(time.Hour).Format(time.RFC3339) }, "invalid_field", "sale_opens_at"},
		{"no venue", func(b map[string]any) { b["venue_id"] = 9999 }, "invalid_field", "venue_id"},
		{"no name", func(b map[string]any) { delete(b, "name") }, "invalid_field", "name"},
		{"no ticket limit", func(b map[string]any) { delete(b, "max_tickets_per_fan") }, "invalid_field", "max_tickets_per_fan"},
		{"extra field", func(b map[string]any) { b["price"] = 5 }, "unknown_field", "price"},
	}
	for _, b := range bad {
		body := map[string]any{}
		for k, v := range map[string]any{"venue_id": venueID, "name": "X", "starts_at": starts.Format(time.RFC3339), "sale_opens_at": opens.Format(time.RFC3339), "max_tickets_per_fan": 2} {
			body[k] = v
		}
		b.edit(body)
		r := e.call(t, "POST", "/api/v1/admin/events", ops, body)
		if r.status != 422 || r.code() != b.code || r.str("error", "details", "field") != b.field {
			t.Errorf("%s: %d %s, want 422 %s on %s", b.name, r.status, r.raw, b.code, b.field)
		}
	}

	path := fmt.Sprintf("/api/v1/admin/events/%d/admission", id)
	if g := e.call(t, "GET", path, ops, nil); g.status != 200 || g.num("rate_per_second") != 50 || g.num("max_active") != 500 || g.get("paused") != false || g.get("auto") != false {
		t.Fatalf("default settings: %d %s", g.status, g.raw)
	}
	set := map[string]any{"rate_per_second": 12.5, "max_active": 40, "paused": true, "auto": false}
	if p := e.call(t, "PUT", path, ops, set); p.status != 200 || p.num("rate_per_second") != 12.5 || p.get("paused") != true {
		t.Fatalf("put: %d %s", p.status, p.raw)
	}
	for _, bad := range []any{
		map[string]any{"rate_per_second": 5, "max_active": 40, "paused": false},
		map[string]any{"rate_per_second": 0, "max_active": 40, "paused": false, "auto": false},
		map[string]any{"rate_per_second": 1e-300, "max_active": 40, "paused": false, "auto": false},
		map[string]any{"rate_per_second": nil, "max_active": 40, "paused": false, "auto": false},
		map[string]any{"rate_per_second": 5, "max_active": 1.5, "paused": false, "auto": false},
		map[string]any{"rate_per_second": "fast", "max_active": 40, "paused": false, "auto": false},
		`{"rate_per_second": 1e999, "max_active": 40, "paused": false, "auto": false}`,
	} {
		if p := e.call(t, "PUT", path, ops, bad); p.status != 422 {
			t.Errorf("put %v: %d %s, want 422", bad, p.status, p.raw)
		}
	}
	if g := e.call(t, "GET", path, ops, nil); g.num("rate_per_second") != 12.5 || g.num("max_active") != 40 || g.get("paused") != true {
		t.Fatalf("refused PUTs changed the settings: %s", g.raw)
	}
	if p := e.call(t, "PUT", "/api/v1/admin/events/99999/admission", ops, set); p.status != 404 || p.code() != "event_not_found" {
		t.Fatalf("settings of a missing event: %d %s", p.status, p.raw)
	}
	st := e.call(t, "GET", fmt.Sprintf("/api/v1/admin/events/%d/stats", id), ops, nil)
	if st.status != 200 || st.get("queue_length") != 0.0 || st.num("rate_per_second") != 12.5 || st.get("eta_back_seconds") != 0.0 {
		t.Fatalf("stats: %d %s", st.status, st.raw)
	}
	for _, k := range []string{"queue_length", "prequeue_length", "admitted_total", "active", "rate_per_second", "measured_rate_per_second", "abandoned", "eta_back_seconds", "draw_seed"} {
		if _, ok := st.body[k]; !ok {
			t.Errorf("stats lack %s: %s", k, st.raw)
		}
	}
}
