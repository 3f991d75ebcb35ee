package gateway_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

func TestRegisterLoginAndMe(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	r := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": " Ana@Example.com", "password": "correct horse battery", "name": "Ana"})
	if r.status != 201 || r.str("user", "email") != "ana@example.com" || r.str("user", "role") != "fan" || r.str("token_type") != "Bearer" {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	exp, err := time.Parse(time.RFC3339, r.str("expires_at"))
	if err != nil || time.Until(exp) < 11*time.Hour {
		t.Fatalf("expires_at %q: want about 12 h ahead (%v)", r.str("expires_at"), err)
	}
	claims, err := e.ring.VerifyAccess(r.str("access_token"), time.Now())
	if err != nil || claims.Role != tokens.RoleFan || claims.UserID != int64(r.num("user", "id")) {
		t.Fatalf("access token: %+v, %v", claims, err)
	}
	if got := r.header.Get("X-Request-Id"); got == "" {
		t.Fatal("no X-Request-Id")
	}

	login := e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "ANA@example.com", "password": "correct horse battery"})
	if login.status != 200 || login.num("user", "id") != r.num("user", "id") || login.str("access_token") == "" {
		t.Fatalf("login: %d %s", login.status, login.raw)
	}
	me := e.call(t, "GET", "/api/v1/me", login.str("access_token"), nil)
	if me.status != 200 || me.str("user", "name") != "Ana" || me.str("user", "email") != "ana@example.com" {
		t.Fatalf("me: %d %s", me.status, me.raw)
	}

	bad := []struct {
		name, path string
		body       any
		headers    []string
		status     int
		code       string
	}{
		{"taken email", "/api/v1/auth/register", map[string]string{"email": "ana@EXAMPLE.com", "password": "another passphrase", "name": "Ana 2"}, nil, 409, "email_taken"},
		{"weak password", "/api/v1/auth/register", map[string]string{"email": "bo@example.com", "password": "short", "name": "Bo"}, nil, 422, "weak_password"},
		{"invalid email", "/api/v1/auth/register", map[string]string{"email": "bo", "password": "a long passphrase", "name": "Bo"}, nil, 422, "invalid_field"},
		{"unknown field", "/api/v1/auth/register", `{"email":"bo@example.com","password":"a long passphrase","name":"Bo","role":"ops"}`, nil, 422, "unknown_field"},
		{"malformed JSON", "/api/v1/auth/register", `{"email":`, nil, 400, "malformed_json"},
		{"not an object", "/api/v1/auth/login", `[1,2]`, nil, 400, "malformed_json"},
		{"trailing data", "/api/v1/auth/login", `{"email":"a@b.co","password":"x"} {}`, nil, 400, "malformed_json"},
		{"wrong type", "/api/v1/auth/login", `{"email":5,"password":"x"}`, nil, 422, "invalid_field"},
		{"not JSON", "/api/v1/auth/login", "email=a", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"huge body", "/api/v1/auth/register", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "body_too_large"},
		{"wrong password", "/api/v1/auth/login", map[string]string{"email": "ana@example.com", "password": "correct horse batterY"}, nil, 401, "bad_credentials"},
		{"unknown account", "/api/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "correct horse battery"}, nil, 401, "bad_credentials"},
	}
	for _, b := range bad {
		r := e.call(t, "POST", b.path, "", b.body, b.headers...)
		if r.status != b.status || r.code() != b.code {
			t.Errorf("%s: got %d %s, want %d %s", b.name, r.status, r.raw, b.status, b.code)
		}
	}
	var accounts int
	if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&accounts); err != nil || accounts != 1 {
		t.Fatalf("accounts after the refused requests: %d (%v), want 1", accounts, err)
	}
}

func TestJWKSPublishesEveryKeyAndOldKeysStillVerify(t *testing.T) {
	t.Parallel()
	old, err := tokens.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	current, _ := tokens.GenerateKey()
	oldRing, _ := tokens.NewRing(old)
	// The rotated ring: the old key still verifies, the newest signs.
	ring, _ := tokens.NewRing(old, current)
	e := newEdge(t, edgeOptions{cfg: noLimits, ring: ring})

	r := e.call(t, "GET", "/.well-known/jwks.json", "", nil)
	keys, _ := r.get("keys").([]any)
	if r.status != 200 || len(keys) != 2 || !strings.Contains(r.header.Get("Cache-Control"), "max-age") {
		t.Fatalf("jwks: %d %s", r.status, r.raw)
	}
	published := map[string]string{}
	for _, k := range keys {
		m := k.(map[string]any)
		if m["kty"] != "OKP" || m["crv"] != "Ed25519" || m["alg"] != "EdDSA" {
			t.Fatalf("key %v is not an Ed25519 OKP key", m)
		}
		published[m["kid"].(string)] = m["x"].(string)
	}
	for _, k := range []tokens.Key{old, current} {
		if published[k.ID] != base64.RawURLEncoding.EncodeToString(k.Public) {
			t.Fatalf("key %s is not published with its public half", k.ID)
		}
	}

	login := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": "rot@example.com", "password": "a long passphrase", "name": "R"})
	if kid := headerOf(t, login.str("access_token"))["kid"]; kid != current.ID {
		t.Fatalf("new tokens are signed by %v, want the newest key %s", kid, current.ID)
	}
	// A token the old key signed before the rotation still works.
	oldToken, _, _ := oldRing.IssueAccess(int64(login.num("user", "id")), tokens.RoleFan, time.Hour, time.Now())
	if r := e.call(t, "GET", "/api/v1/me", oldToken, nil); r.status != 200 {
		t.Fatalf("token of the older key: %d %s", r.status, r.raw)
	}
}

func headerOf(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(raw, &h)
	return h
}

// forge builds a token from header and claims signed by sign.
func forge(header, claims map[string]any, sign func(input string) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

// rejections reads the token rejection counter of reason from /metrics.
func rejections(t *testing.T, e *edge, reason string) int {
	t.Helper()
	res, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`ticketvelo_token_rejections_total\{reason="` + reason + `"\} (\d+)`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestForgedAccessTokensGet401WithTheirReason sends every kind of bad token
// to a fan route and an ops route: each gets 401 with its reason code and
// is counted in the rejection metric.
func TestForgedAccessTokensGet401WithTheirReason(t *testing.T) {
	e := newEdge(t, edgeOptions{cfg: noLimits})
	signer, _ := e.ring.Signer()
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "ticketvelo", "sub": "7", "aud": []string{"ticketvelo"}, "role": "fan",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	ed := func(key ed25519.PrivateKey) func(string) []byte {
		return func(in string) []byte { return ed25519.Sign(key, []byte(in)) }
	}
	good := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": signer.ID}
	genuine := forge(good, claims(nil), ed(signer.Private))
	if r := e.call(t, "GET", "/api/v1/events/1/queue", genuine, nil); r.status != 404 || r.code() != "event_not_found" {
		t.Fatalf("the genuine control token must pass authentication: %d %s", r.status, r.raw)
	}
	stranger, _ := tokens.GenerateKey()
	admissionTok, _, _ := e.ring.IssueAdmission(7, 1, time.Minute, now)
	// The genuine token's signature over claims that now say "ops".
	parts := strings.Split(genuine, ".")
	tampered := parts[0] + "." + strings.Split(forge(good, claims(func(c map[string]any) { c["role"] = "ops" }), ed(signer.Private)), ".")[1] + "." + parts[2]

	cases := []struct {
		name, token, code string
	}{
		{"no token", "", "token_missing"},
		{"not a JWT", "abc.def", "token_malformed"},
		{"segments that are not base64 JSON", "!!!.???.***", "token_malformed"},
		{"alg none", forge(map[string]any{"alg": "none", "typ": "JWT", "kid": signer.ID}, claims(nil), func(string) []byte { return nil }), "token_alg"},
		{"alg HS256 keyed with the public key", forge(map[string]any{"alg": "HS256", "typ": "JWT", "kid": signer.ID}, claims(nil), func(in string) []byte {
			m := hmac.New(sha256.New, signer.Public)
			m.Write([]byte(in))
			return m.Sum(nil)
		}), "token_signature"},
		{"unknown kid", forge(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": stranger.ID}, claims(nil), ed(stranger.Private)), "token_kid"},
		{"no kid", forge(map[string]any{"alg": "EdDSA", "typ": "JWT"}, claims(nil), ed(signer.Private)), "token_kid"},
		{"admission token as access token", admissionTok, "token_audience"},
		{"wrong audience", forge(good, claims(func(c map[string]any) { c["aud"] = []string{"booker"} }), ed(signer.Private)), "token_audience"},
		{"expired", forge(good, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), ed(signer.Private)), "token_expired"},
		{"tampered claims", tampered, "token_signature"},
		{"signed by another key under our kid", forge(good, claims(nil), ed(stranger.Private)), "token_signature"},
		{"no subject", forge(good, claims(func(c map[string]any) { delete(c, "sub") }), ed(signer.Private)), "token_claims"},
		{"unknown role", forge(good, claims(func(c map[string]any) { c["role"] = "admin" }), ed(signer.Private)), "token_claims"},
	}
	for _, c := range cases {
		before := rejections(t, e, c.code)
		for _, route := range []string{"/api/v1/events/1/queue", "/api/v1/admin/events/1/stats"} {
			r := e.call(t, "GET", route, c.token, nil)
			if r.status != 401 || r.code() != c.code {
				t.Errorf("%s on %s: got %d %s, want 401 %s", c.name, route, r.status, r.raw, c.code)
			}
			if !strings.Contains(r.header.Get("WWW-Authenticate"), c.code) {
				t.Errorf("%s: WWW-Authenticate %q does not name %s", c.name, r.header.Get("WWW-Authenticate"), c.code)
			}
		}
		if after := rejections(t, e, c.code); after < before+2 {
			t.Errorf("%s: the rejection metric went from %d to %d, want +2", c.name, before, after)
		}
	}
}

func TestOpsRoutesNeedAnOpsToken(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	fan, _ := e.register(t, "fan@example.com")
	event := e.event(t, 10, time.Now())
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/admin/venues"}, {"POST", "/api/v1/admin/events"},
		{"GET", "/api/v1/admin/events/" + strconv.FormatInt(event, 10) + "/admission"},
		{"PUT", "/api/v1/admin/events/" + strconv.FormatInt(event, 10) + "/admission"},
		{"GET", "/api/v1/admin/events/" + strconv.FormatInt(event, 10) + "/stats"},
		{"GET", "/api/v1/admin/events/" + strconv.FormatInt(event, 10) + "/stats/history"},
	}
	for _, rt := range routes {
		if r := e.call(t, rt.method, rt.path, fan, map[string]any{}); r.status != 403 || r.code() != "forbidden" {
			t.Errorf("fan on %s %s: got %d %s, want 403 forbidden", rt.method, rt.path, r.status, r.raw)
		}
		if r := e.call(t, rt.method, rt.path, "", map[string]any{}); r.status != 401 || r.code() != "token_missing" {
			t.Errorf("nobody on %s %s: got %d %s, want 401", rt.method, rt.path, r.status, r.raw)
		}
	}
}
