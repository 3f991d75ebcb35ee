package tokens_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func code(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an apperr: " + err.Error()
}

func TestAccessTokenRoundTrip(t *testing.T) {
	r, _ := newRing(t)
	tok, exp, err := r.IssueAccess(42, tokens.RoleOps, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.VerifyAccess(tok, now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("VerifyAccess: %v", err)
	}
	if got.UserID != 42 || got.Role != tokens.RoleOps || !got.ExpiresAt.Equal(exp) {
		t.Errorf("got %+v, want user 42, role ops, expiry %s", got, exp)
	}
}

func TestAdmissionTokenRoundTrip(t *testing.T) {
	r, _ := newRing(t)
	tok, adm, err := r.IssueAdmission(7, 3, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.VerifyAdmission(tok, 3, now.Add(9*time.Minute))
	if err != nil {
		t.Fatalf("VerifyAdmission: %v", err)
	}
	if got.UserID != adm.UserID || got.EventID != adm.EventID || got.ID != adm.ID || !got.ExpiresAt.Equal(adm.ExpiresAt) || got.ID == "" {
		t.Errorf("got %+v, want %+v with a jti", got, adm)
	}
}

// TestAdmissionAsIssuedProvesOnlyAGenuineToken: an expired admission
// token still shows its fan and admission, for a replay; a forged one, an
// access token or one of another event does not.
func TestAdmissionAsIssuedProvesOnlyAGenuineToken(t *testing.T) {
	r, _ := newRing(t)
	other, _ := newRing(t)
	tok, adm, err := r.IssueAdmission(7, 3, 10*time.Minute, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.VerifyAdmission(tok, 3, now); code(err) != "token_expired" {
		t.Fatalf("VerifyAdmission of an expired token: %v, want token_expired", err)
	}
	if got, err := r.VerifyAdmissionAsIssued(tok, 3); err != nil || got.UserID != 7 || got.ID != adm.ID || !got.ExpiresAt.Equal(adm.ExpiresAt) {
		t.Errorf("as issued: got %+v, %v, want %+v", got, err, adm)
	}
	forged, _, _ := other.IssueAdmission(7, 3, 10*time.Minute, now.Add(-time.Hour))
	access, _, _ := r.IssueAccess(7, tokens.RoleFan, time.Hour, now.Add(-2*time.Hour))
	for name, c := range map[string]struct {
		tok   string
		event int64
		want  string
	}{
		"forged": {forged, 3, "token_kid"}, "another event": {tok, 4, "token_event"},
		"an access token": {access, 3, "token_audience"}, "garbage": {"a.b.c", 3, "token_malformed"},
	} {
		if _, err := r.VerifyAdmissionAsIssued(c.tok, c.event); err == nil || code(err) != c.want {
			t.Errorf("%s: got %v, want %s", name, err, c.want)
		}
	}
}

// forge builds a token from raw header and claims, signed by sign.
func forge(t *testing.T, header, claims map[string]any, sign func(signingInput string) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

// TestForgedTokensAreRefusedWithTheirReason covers every way a token can be
// wrong: each gets its own reason code, and only another event's genuine
// admission token is a 403 rather than a 401.
func TestForgedTokensAreRefusedWithTheirReason(t *testing.T) {
	r, key := newRing(t)
	other, _ := newRing(t)
	otherKey, _ := other.Signer()
	good, _, err := r.IssueAdmission(7, 3, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	access, _, _ := r.IssueAccess(7, tokens.RoleFan, time.Hour, now)
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "ticketvelo", "sub": "7", "aud": []string{"booker"}, "evt": 3, "jti": "j1",
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	ed := func(k tokens.Key) func(string) []byte {
		return func(in string) []byte { return ed25519.Sign(k.Private, []byte(in)) }
	}
	header := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": key.ID}
	parts := strings.Split(good, ".")
	tamperedClaims := claims(func(c map[string]any) { c["evt"] = 4 })
	b, _ := json.Marshal(tamperedClaims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]

	cases := []struct {
		name, token string
		event       int64
		code        string
		status      apperr.Kind
	}{
		{"empty", "", 3, "token_missing", apperr.Unauthenticated},
		{"garbage", "not.a.jwt", 3, "token_malformed", apperr.Unauthenticated},
		{"two parts", "abc.def", 3, "token_malformed", apperr.Unauthenticated},
		{"huge", strings.Repeat("a", 10000), 3, "token_malformed", apperr.Unauthenticated},
		{"alg none", forge(t, map[string]any{"alg": "none", "typ": "JWT", "kid": key.ID}, claims(nil), func(string) []byte { return nil }), 3, "token_alg", apperr.Unauthenticated},
		// HS256 verifies with the key's derived secret, never its public half.
		{"alg HS256 with the public key as secret", forge(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.ID}, claims(nil), func(in string) []byte {
			m := hmac.New(sha256.New, key.Public)
			m.Write([]byte(in))
			return m.Sum(nil)
		}), 3, "token_signature", apperr.Unauthenticated},
		{"alg HS512", forge(t, map[string]any{"alg": "HS512", "typ": "JWT", "kid": key.ID}, claims(nil), func(string) []byte { return make([]byte, 64) }), 3, "token_alg", apperr.Unauthenticated},
		{"unknown kid", forge(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "nope"}, claims(nil), ed(key)), 3, "token_kid", apperr.Unauthenticated},
		{"no kid", forge(t, map[string]any{"alg": "EdDSA", "typ": "JWT"}, claims(nil), ed(key)), 3, "token_kid", apperr.Unauthenticated},
		{"signed by another key under our kid", forge(t, header, claims(nil), ed(otherKey)), 3, "token_signature", apperr.Unauthenticated},
		{"tampered claims", tampered, 4, "token_signature", apperr.Unauthenticated},
		{"wrong audience: an access token", access, 3, "token_audience", apperr.Unauthenticated},
		{"expired", forge(t, header, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), ed(key)), 3, "token_expired", apperr.Unauthenticated},
		{"no expiry", forge(t, header, claims(func(c map[string]any) { delete(c, "exp") }), ed(key)), 3, "token_claims", apperr.Unauthenticated},
		{"wrong issuer", forge(t, header, claims(func(c map[string]any) { c["iss"] = "evil" }), ed(key)), 3, "token_claims", apperr.Unauthenticated},
		{"subject not a user id", forge(t, header, claims(func(c map[string]any) { c["sub"] = "admin" }), ed(key)), 3, "token_claims", apperr.Unauthenticated},
		{"no jti", forge(t, header, claims(func(c map[string]any) { delete(c, "jti") }), ed(key)), 3, "token_claims", apperr.Unauthenticated},
		{"another event's genuine token", good, 4, "token_event", apperr.Forbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.VerifyAdmission(tc.token, tc.event, now)
			if err == nil {
				t.Fatal("got no error")
			}
			if got := code(err); got != tc.code {
				t.Errorf("code: got %q, want %q", got, tc.code)
			}
			if got := apperr.As(err).Kind; got != tc.status {
				t.Errorf("kind: got %d, want %d", got, tc.status)
			}
		})
	}
}

func TestAccessTokenRefusesAdmissionTokenAndUnknownRole(t *testing.T) {
	r, key := newRing(t)
	adm, _, _ := r.IssueAdmission(7, 3, time.Minute, now)
	if _, err := r.VerifyAccess(adm, now); code(err) != "token_audience" {
		t.Errorf("admission token as access token: got %v, want token_audience", err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "ticketvelo", "sub": "7", "aud": "ticketvelo", "role": "root", "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = key.ID
	s, err := tok.SignedString(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.VerifyAccess(s, now); code(err) != "token_claims" {
		t.Errorf("role root: got %v, want token_claims", err)
	}
}

func TestRotationOldKeysVerifyNewestSigns(t *testing.T) {
	old, _ := tokens.GenerateKey()
	oldRing, _ := tokens.NewRing(old)
	oldToken, _, _ := oldRing.IssueAccess(1, tokens.RoleFan, time.Hour, now)

	newer, _ := tokens.GenerateKey()
	rotated, err := tokens.NewRing(old, newer)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := rotated.Signer(); s.ID != newer.ID {
		t.Errorf("signer: got %s, want the newest key %s", s.ID, newer.ID)
	}
	if _, err := rotated.VerifyAccess(oldToken, now); err != nil {
		t.Errorf("a token of the older key no longer verifies: %v", err)
	}
	newToken, _, _ := rotated.IssueAccess(1, tokens.RoleFan, time.Hour, now)
	if _, err := oldRing.VerifyAccess(newToken, now); code(err) != "token_kid" {
		t.Errorf("the old ring took a token of a key it never had: %v", err)
	}

	retired, _ := tokens.NewRing(newer)
	if _, err := retired.VerifyAccess(oldToken, now); code(err) != "token_kid" {
		t.Errorf("a retired key still verifies: %v", err)
	}

	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg string }
	}
	b, err := rotated.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != old.ID || set.Keys[1].Kid != newer.ID || set.Keys[1].Kty != "OKP" || set.Keys[1].Alg != "EdDSA" {
		t.Errorf("JWKS: got %+v", set.Keys)
	}
	x, _ := base64.RawURLEncoding.DecodeString(set.Keys[1].X)
	if !ed25519.PublicKey(x).Equal(newer.Public) {
		t.Error("JWKS x is not the public key")
	}
}

func TestLoadOrCreateKeepsOneKeyAcrossRacingStarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "keys.pem")
	const starts = 8
	ids := make([]string, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tokens.LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			k, _ := r.Signer()
			ids[i] = k.ID
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("start %d signs with %s, start 0 with %s: want one key", i, ids[i], ids[0])
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 600", info.Mode().Perm())
	}
}

func TestParsePEMWithVerifyOnlyKeys(t *testing.T) {
	signing, _ := tokens.GenerateKey()
	retiring, _ := tokens.GenerateKey()
	pubOnly := tokens.Key{ID: retiring.ID, Public: retiring.Public}
	a, _ := tokens.EncodePEM(pubOnly)
	b, _ := tokens.EncodePEM(signing)
	keys, err := tokens.ParsePEM(append(a, b...))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tokens.NewRing(keys...)
	if s, _ := r.Signer(); s.ID != signing.ID {
		t.Errorf("signer %s, want %s", s.ID, signing.ID)
	}
	if k, ok := r.Lookup(retiring.ID); !ok || k.Private != nil {
		t.Error("the public-only key is missing or has a private half")
	}
	if _, err := tokens.ParsePEM([]byte("junk")); err == nil {
		t.Error("junk parsed as keys")
	}
	verifyOnly, _ := tokens.NewRing(pubOnly)
	if _, _, err := verifyOnly.IssueAccess(1, tokens.RoleFan, time.Hour, now); err == nil {
		t.Error("a ring without a private key signed a token")
	}
}

// FuzzVerifyAdmission: whatever the token, verification never panics and
// refuses with a 401 or 403 reason, unless the token is genuine.
func FuzzVerifyAdmission(f *testing.F) {
	k, err := tokens.ParsePEM([]byte(fuzzKeyPEM))
	if err != nil {
		f.Fatal(err)
	}
	r, _ := tokens.NewRing(k...)
	good, _, _ := r.IssueAdmission(7, 3, time.Hour, now)
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good[:len(good)-2], strings.Replace(good, ".", "..", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, err := r.VerifyAdmission(token, 3, now)
		if err == nil {
			return
		}
		if kind := apperr.As(err).Kind; kind != apperr.Unauthenticated && kind != apperr.Forbidden {
			t.Fatalf("token %q: kind %d (%v), want 401 or 403", token, kind, err)
		}
	})
}

// fuzzKeyPEM is a fixed key so the fuzz corpus in testdata stays meaningful.
const fuzzKeyPEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAuBhdGXu6nBqDPRhuYdqNIGb+oqTe8bvfqJkB5eY4Ov
-----END PRIVATE KEY-----
`

// TestAccessTokensBeforeHS256VerifyUntilTheyExpire: access tokens are HS256
// under each key's derived secret now; the EdDSA access tokens signed
// before the change still verify until their exp, and not after; an HS256
// token of a retired key, or made with the public key as its secret, or
// shown to a ring that has only public keys, is refused; and an EdDSA
// admission token is still EdDSA.
func TestAccessTokensBeforeHS256VerifyUntilTheyExpire(t *testing.T) {
	r, key := newRing(t)
	tok, _, err := r.IssueAccess(7, tokens.RoleFan, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if alg := header(t, tok)["alg"]; alg != "HS256" {
		t.Errorf("access token alg: got %v, want HS256", alg)
	}
	if adm, _, _ := r.IssueAdmission(7, 3, time.Minute, now); header(t, adm)["alg"] != "EdDSA" {
		t.Errorf("admission token alg: got %v, want EdDSA (others verify it offline with the JWKS)", header(t, adm)["alg"])
	}

	old := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "ticketvelo", "sub": "7", "aud": []string{"ticketvelo"},
		"role": "fan", "iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(), "jti": "before"})
	old.Header["kid"] = key.ID
	before, err := old.SignedString(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := r.VerifyAccess(before, now.Add(12*time.Hour-time.Second)); err != nil || a.UserID != 7 {
		t.Errorf("an EdDSA access token signed before the change, a second before its exp: got %+v, %v", a, err)
	}
	if _, err := r.VerifyAccess(before, now.Add(12*time.Hour+time.Second)); code(err) != "token_expired" {
		t.Errorf("the same token after its exp: got %v, want token_expired", err)
	}

	// The signature's last character carries two unused bits: spelling it
	// otherwise is another token, refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	respelled := tok[:len(tok)-1] + string(alphabet[last^1])
	if _, err := r.VerifyAccess(respelled, now); err == nil {
		t.Error("an access token whose signature is spelled otherwise verified")
	}

	newer, _ := tokens.GenerateKey()
	retired, _ := tokens.NewRing(newer)
	if _, err := retired.VerifyAccess(tok, now); code(err) != "token_kid" {
		t.Errorf("HS256 token of a retired key: got %v, want token_kid", err)
	}
	publicOnly, _ := tokens.NewRing(tokens.Key{ID: key.ID, Public: key.Public})
	if _, err := publicOnly.VerifyAccess(tok, now); code(err) != "token_kid" {
		t.Errorf("HS256 token on a ring without the private key: got %v, want token_kid", err)
	}
	confused := forgeAccess(t, key, func(in string) []byte {
		m := hmac.New(sha256.New, key.Public)
		m.Write([]byte(in))
		return m.Sum(nil)
	})
	if _, err := r.VerifyAccess(confused, now); code(err) != "token_signature" {
		t.Errorf("HS256 access token with the public key as secret: got %v, want token_signature", err)
	}
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// forgeAccess is an HS256 access token for user 7 under key's kid, signed
// by sign.
func forgeAccess(t *testing.T, key tokens.Key, sign func(string) []byte) string {
	t.Helper()
	return forge(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.ID},
		map[string]any{"iss": "ticketvelo", "sub": "7", "aud": []string{"ticketvelo"}, "role": "fan", "jti": "x",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, sign)
}

// FuzzVerifyAccess: whatever the token, verification never panics and
// refuses with a 401 reason, unless the token is genuine.
func FuzzVerifyAccess(f *testing.F) {
	k, err := tokens.ParsePEM([]byte(fuzzKeyPEM))
	if err != nil {
		f.Fatal(err)
	}
	r, _ := tokens.NewRing(k...)
	// A ring that remembers the tokens it verified, having seen the
	// genuine one, answers every token as the ring that remembers none.
	remembering, _ := tokens.NewRing(k...)
	remembering.RememberAccess(1)
	good, _, _ := r.IssueAccess(7, tokens.RoleFan, time.Hour, now)
	if _, err := remembering.VerifyAccess(good, now); err != nil {
		f.Fatal(err)
	}
	adm, _, _ := r.IssueAdmission(7, 3, time.Hour, now)
	for _, s := range []string{good, adm, "", "a.b.c", good[:len(good)-2], strings.Replace(good, "HS256", "EdDSA", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		a, err := r.VerifyAccess(token, now)
		// The request buffer's variant answers the same.
		if b, berr := r.VerifyAccessBytes([]byte(token), now); b != a || fmt.Sprint(berr) != fmt.Sprint(err) {
			t.Fatalf("token %q: VerifyAccessBytes %+v, %v; VerifyAccess %+v, %v", token, b, berr, a, err)
		}
		if m, merr := remembering.VerifyAccessBytes([]byte(token), now); m != a || fmt.Sprint(merr) != fmt.Sprint(err) {
			t.Fatalf("token %q: the remembering ring %+v, %v; the other %+v, %v", token, m, merr, a, err)
		}
		if err == nil {
			return
		}
		if kind := apperr.As(err).Kind; kind != apperr.Unauthenticated {
			t.Fatalf("token %q: kind %d (%v), want 401", token, kind, err)
		}
	})
}
