package tokens_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// BenchmarkVerifyAccess weighs what a fan's first request to a gateway pays
// for their access token: today's HS256 token against an EdDSA one, what
// access tokens were before, and what each later request pays for a token
// the ring remembers (docs/BENCHMARKS.md, "The edge"):
//
//	go test ./internal/tokens/ -run '^$' -bench VerifyAccess -benchmem
func BenchmarkVerifyAccess(b *testing.B) {
	k, err := tokens.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	r, _ := tokens.NewRing(k)
	hs, _, err := r.IssueAccess(7, tokens.RoleFan, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	old := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": tokens.Issuer, "sub": "7", "aud": []string{tokens.AudienceAccess},
		"role": tokens.RoleFan, "exp": time.Now().Add(time.Hour).Unix()})
	old.Header["kid"] = k.ID
	ed, err := old.SignedString(k.Private)
	if err != nil {
		b.Fatal(err)
	}
	remembering, _ := tokens.NewRing(k)
	remembering.RememberAccess(64)
	for _, c := range []struct {
		name  string
		ring  *tokens.Ring
		token string
	}{{"HS256", r, hs}, {"HS256-seen", remembering, hs}, {"EdDSA", r, ed}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.ring.VerifyAccess(c.token, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyAccessAmongMany is a token's check on a gateway whose
// ring remembers half a million fans' tokens, against one that remembers
// none, in an order that defeats the CPU's caches, as a crowd's polls do:
//
//	go test ./internal/tokens/ -run '^$' -bench AmongMany -benchmem
func BenchmarkVerifyAccessAmongMany(b *testing.B) {
	k, err := tokens.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	plain, _ := tokens.NewRing(k)
	remembering, _ := tokens.NewRing(k)
	remembering.RememberAccess(64)
	now := time.Now()
	toks := make([]string, 500_000)
	for i := range toks {
		if toks[i], _, err = plain.IssueAccess(int64(i+1), tokens.RoleFan, time.Hour, now); err != nil {
			b.Fatal(err)
		}
		if _, err := remembering.VerifyAccess(toks[i], now); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		ring *tokens.Ring
	}{{"remembered", remembering}, {"in-full", plain}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				// A stride coprime to the count visits every token in a
				// scattered order.
				if _, err := c.ring.VerifyAccess(toks[i*7919%len(toks)], now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
