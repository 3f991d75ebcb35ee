package tokens

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

var seenNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func rememberingRing(t *testing.T) *Ring {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRing(k)
	if err != nil {
		t.Fatal(err)
	}
	r.RememberAccess(1)
	return r
}

func reason(err error) string {
	if err == nil {
		return "no error"
	}
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "not an apperr: " + err.Error()
}

// A remembered token answers from memory, and only that token: one that
// shares its MAC or its claims but not both is checked in full and refused
// for what it is, and the remembered one itself is refused from its exp;
// in a table of one set too, where every token meets the remembered one.
func TestSeenAccessAnswersOnlyTheTokenThatVerified(t *testing.T) {
	for _, slots := range []int{0, ways} {
		r := rememberingRing(t)
		if slots > 0 {
			r.seen.slots = make([]seenSlot, slots)
		}
		answersOnlyTheTokenThatVerified(t, r)
	}
}

func answersOnlyTheTokenThatVerified(t *testing.T, r *Ring) {
	t.Helper()
	tok, exp, err := r.IssueAccess(7, RoleOps, time.Hour, seenNow)
	if err != nil {
		t.Fatal(err)
	}
	first, err := r.VerifyAccess(tok, seenNow)
	if err != nil {
		t.Fatal(err)
	}
	hits := accessSeen.Get()
	again, err := r.VerifyAccessBytes([]byte(tok), seenNow.Add(time.Minute))
	if err != nil || again != first || again.UserID != 7 || again.Role != RoleOps || !again.ExpiresAt.Equal(exp) {
		t.Fatalf("the token again: got %+v, %v; want %+v", again, err, first)
	}
	if got := accessSeen.Get() - hits; got != 1 {
		t.Fatalf("the token again: %d answers from memory, want 1", got)
	}

	parts := strings.Split(tok, ".")
	other, _, _ := r.IssueAccess(8, RoleFan, time.Hour, seenNow)
	otherParts := strings.Split(other, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	promoted := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"sub":"7"`, `"sub":"1"`, 1)))
	mac, _ := base64.RawURLEncoding.DecodeString(parts[2])
	mac[0] ^= 1
	hits = accessSeen.Get()
	for name, forged := range map[string]string{
		"its MAC under other claims":     parts[0] + "." + promoted + "." + parts[2],
		"its MAC under another's claims": parts[0] + "." + otherParts[1] + "." + parts[2],
		"its claims under another MAC":   parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac),
		"its claims under another's MAC": parts[0] + "." + parts[1] + "." + otherParts[2],
	} {
		if a, err := r.VerifyAccess(forged, seenNow); reason(err) != "token_signature" {
			t.Errorf("%s: got %+v, %v; want token_signature", name, a, err)
		}
	}
	if _, err := r.VerifyAccess(tok, exp); reason(err) != "token_expired" {
		t.Errorf("the remembered token at its exp: got %v, want token_expired", err)
	}
	if got := accessSeen.Get() - hits; got != 0 {
		t.Errorf("%d refused tokens were answered from memory", got)
	}
}

// Fans racing through a table far too small for them, evicting each other
// from its slots, each get their own identity back, every time.
func TestSeenAccessNeverMixesUpFansUnderContention(t *testing.T) {
	r := rememberingRing(t)
	r.seen.slots = make([]seenSlot, 8)
	const fans = 64
	toks := make([]string, fans)
	for i := range toks {
		role := RoleFan
		if i%5 == 0 {
			role = RoleOps
		}
		toks[i], _, _ = r.IssueAccess(int64(i+1), role, time.Hour, seenNow)
	}
	hits := accessSeen.Get()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for n := range 5000 {
				i := (n*7 + g*13) % fans
				a, err := r.VerifyAccess(toks[i], seenNow)
				wantRole := RoleFan
				if i%5 == 0 {
					wantRole = RoleOps
				}
				if err != nil || a.UserID != int64(i+1) || a.Role != wantRole {
					errs <- errors.New("fan " + toks[i][len(toks[i])-6:] + ": got another identity or an error")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if accessSeen.Get() == hits {
		t.Error("no token was answered from memory: the test did not exercise the table")
	}
}
