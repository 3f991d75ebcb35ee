package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestUIIsServedWithSecurityHeaders: the UI's pages load scripts, styles
// and data from the gateway only, cannot be framed (clickjacking on the
// checkout), are not sniffed as another type, and do not send their paths
// to other sites; API answers are not sniffed either.
func TestUIIsServedWithSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	for _, path := range []string{"/", "/events/42", "/ops"} {
		r := e.call(t, "GET", path, "", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
		checkSecurityHeaders(t, "GET "+path, r.header)
		csp := directives(r.header.Get("Content-Security-Policy"))
		for name, want := range map[string]string{
			"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "img-src": "'self' data:",
			"connect-src": "'self'", "object-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'self'", "form-action": "'self'",
		} {
			if got := csp[name]; got != want {
				t.Errorf("GET %s: CSP %s is %q, want %q (policy %q)", path, name, got, want, r.header.Get("Content-Security-Policy"))
			}
		}
		if r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", path, r.header.Get("X-Frame-Options"))
		}
		if got := r.header.Get("Referrer-Policy"); got != "strict-origin-when-cross-origin" {
			t.Errorf("GET %s: Referrer-Policy %q, want strict-origin-when-cross-origin", path, got)
		}
		// The fallback page of a build without the UI must obey its own
		// policy: no inline style or script.
		if body := strings.ToLower(r.raw); strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "<script>") {
			t.Errorf("GET %s: the page has inline style or script the policy blocks:\n%s", path, r.raw)
		}
	}
	for _, path := range []string{"/api/v1/events", "/api/v1/nothing", "/missing.js", "/.well-known/jwks.json", "/healthz"} {
		r := e.call(t, "GET", path, "", nil)
		checkSecurityHeaders(t, "GET "+path, r.header)
	}
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
}

// directives splits a Content-Security-Policy into its directives.
func directives(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			out[name] = strings.TrimSpace(value)
		}
	}
	return out
}
