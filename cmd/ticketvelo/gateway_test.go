package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// call sends a JSON request to the running program.
func (w *world) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestGatewayWithAnOpsAccountFromTheCommandLine boots 'ticketvelo gateway',
// makes an ops account with 'ticketvelo user create --role ops', and uses
// it: the fan's and the ops' routes are wired, and the controller runs.
func TestGatewayWithAnOpsAccountFromTheCommandLine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["TICKETVELO_USER_PASSWORD"] = "ops passphrase 1"
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"user", "create", "--email", "Ops@Example.com", "--role", "ops", "--name", "Ops"}, &out, &errOut, w.getenv); err != nil {
		t.Fatalf("user create: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "created ops account") {
		t.Fatalf("user create printed %q", out.String())
	}
	if err := run(context.Background(), []string{"user", "create", "--email", "ops@example.com", "--role", "ops"}, &out, &errOut, w.getenv); err == nil || !strings.Contains(err.Error(), "email_taken") {
		t.Fatalf("the same email again: %v, want email_taken", err)
	}
	if err := run(context.Background(), []string{"user", "create", "--email", "x@example.com", "--role", "root"}, &out, &errOut, w.getenv); err == nil {
		t.Fatal("an unknown role was accepted")
	}

	w.start(t, "gateway")
	w.waitReady(t, 30*time.Second)
	status, login := w.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "ops@example.com", "password": "ops passphrase 1"})
	if status != 200 {
		t.Fatalf("ops login: %d %v", status, login)
	}
	ops := login["access_token"].(string)
	status, venues := w.call(t, "GET", "/api/v1/admin/venues", ops, nil)
	if status != 200 {
		t.Fatalf("venues: %d %v", status, venues)
	}
	// The gateway does not seed; the venue comes from 'ticketvelo seed'.
	if err := run(context.Background(), []string{"seed", "--seats", "40", "--slug", "cli-grid"}, io.Discard, io.Discard, w.getenv); err != nil {
		t.Fatal(err)
	}
	_, venues = w.call(t, "GET", "/api/v1/admin/venues", ops, nil)
	list := venues["venues"].([]any)
	venue := list[0].(map[string]any)["id"]
	status, created := w.call(t, "POST", "/api/v1/admin/events", ops, map[string]any{
		"venue_id": venue, "name": "CLI Night", "max_tickets_per_fan": 2,
		"starts_at":     time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
		"sale_opens_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
	})
	if status != 201 {
		t.Fatalf("create event: %d %v", status, created)
	}
	id := int64(created["event"].(map[string]any)["id"].(float64))

	status, reg := w.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": "fan@example.com", "password": "a long passphrase", "name": "Fan"})
	if status != 201 {
		t.Fatalf("register: %d %v", status, reg)
	}
	fan := reg["access_token"].(string)
	queue := fmt.Sprintf("/api/v1/events/%d/queue", id)
	if status, st := w.call(t, "POST", queue, fan, nil); status != 201 {
		t.Fatalf("join: %d %v", status, st)
	}
	// The gateway's admission controller draws the (empty) pre-queue and
	// admits the fan.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, st := w.call(t, "GET", queue, fan, nil)
		if st["state"] == "admitted" && st["admission_token"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not admitted after 20 s: %v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, jwks := w.call(t, "GET", "/.well-known/jwks.json", "", nil)
	if keys, _ := jwks["keys"].([]any); status != 200 || len(keys) != 1 {
		t.Fatalf("jwks: %d %v", status, jwks)
	}
}

// TestPprofOnlyWhenAsked boots 'ticketvelo gateway' with
// TICKETVELO_PPROF_ADDR: pprof answers there and nowhere on the public
// listener.
func TestPprofOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	pprofAddr := testenv.FreeAddr(t)
	w.env["TICKETVELO_PPROF_ADDR"] = pprofAddr
	w.start(t, "gateway")
	w.waitReady(t, 30*time.Second)
	const index = "Types of profiles available"
	if code, body, err := get("http://" + pprofAddr + "/debug/pprof/"); err != nil || code != 200 || !strings.Contains(body, index) {
		t.Errorf("pprof on %s: got %d %.80q %v, want 200 with pprof's index", pprofAddr, code, body, err)
	}
	// Unknown paths of the public listener fall through to the UI.
	if _, body, _ := get(w.base + "/debug/pprof/"); strings.Contains(body, index) {
		t.Error("the public listener serves pprof")
	}
}
