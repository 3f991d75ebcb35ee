package tokens_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// BenchmarkVerifyAccess weighs what a fan's first request to a gateway pays
// for their access token: today's HS256 token against an EdDSA one, what
// access tokens were before (docs/BENCHMARKS.md, "The edge"):
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
	for _, c := range []struct{ name, token string }{{"HS256", hs}, {"EdDSA", ed}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.VerifyAccess(c.token, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
