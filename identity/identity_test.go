package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// cheap keeps the tests fast; the format and the checks are the same.
var cheap = identity.Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newStore(t *testing.T) *identity.Store {
	t.Helper()
	_, pool := testenv.Postgres(t)
	s, err := identity.NewStore(pool, cheap, identity.HashLimits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegisterThenLogin(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	u, err := s.Register(ctx, identity.Registration{Email: "  Ana.Lopez@Example.COM ", Password: "correct horse battery", Name: " Ana "})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID <= 0 || u.Email != "ana.lopez@example.com" || u.Name != "Ana" || u.Role != tokens.RoleFan {
		t.Fatalf("registered %+v, want a fan ana.lopez@example.com named Ana", u)
	}
	got, err := s.Login(ctx, "ANA.LOPEZ@example.com", "correct horse battery")
	if err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
	if got.ID != u.ID {
		t.Fatalf("login found user %d, want %d", got.ID, u.ID)
	}
	for name, try := range map[string][2]string{
		"wrong password": {"ana.lopez@example.com", "correct horse battery!"},
		"unknown email":  {"nobody@example.com", "correct horse battery"},
		"invalid email":  {"not an email", "correct horse battery"},
	} {
		if _, err := s.Login(ctx, try[0], try[1]); !errors.Is(err, identity.ErrBadCredentials) {
			t.Errorf("%s: got %v, want bad_credentials", name, err)
		}
	}
	byID, err := s.ByID(ctx, u.ID)
	if err != nil || byID.Email != u.Email {
		t.Fatalf("ByID: got %+v, %v", byID, err)
	}
	if _, err := s.ByID(ctx, u.ID+1000); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("ByID of a missing user: got %v, want not_found", err)
	}
}

func TestEmailIsUniqueAfterNormalising(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Register(ctx, identity.Registration{Email: "sam@example.com", Password: "a long passphrase", Name: "Sam"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Register(ctx, identity.Registration{Email: " SAM@example.com", Password: "another passphrase", Name: "Sam 2"})
	if !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("second registration: got %v, want email_taken", err)
	}
}

func TestConcurrentRegistrationsOfOneEmailCreateOneAccount(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var created, taken atomic.Int32
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Register(ctx, identity.Registration{Email: "race@example.com", Password: "a long passphrase", Name: "Racer"})
			switch {
			case err == nil:
				created.Add(1)
			case errors.Is(err, identity.ErrEmailTaken):
				taken.Add(1)
			default:
				t.Errorf("registration %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || taken.Load() != 49 {
		t.Fatalf("got %d created and %d email_taken, want 1 and 49", created.Load(), taken.Load())
	}
}

func TestCreateOps(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	u, err := s.Create(context.Background(), identity.Registration{Email: "ops@example.com", Password: "ops passphrase 1", Name: "Ops"}, tokens.RoleOps)
	if err != nil || u.Role != tokens.RoleOps {
		t.Fatalf("got %+v, %v; want an ops account", u, err)
	}
	if _, err := s.Create(context.Background(), identity.Registration{Email: "x@example.com", Password: "ops passphrase 1", Name: "X"}, "admin"); apperr.As(err).Code != "invalid_field" {
		t.Fatalf("unknown role: got %v, want invalid_field", err)
	}
}

func TestSetRoleChangesWhatRoleReads(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	u, err := s.Create(ctx, identity.Registration{Email: "ops@example.com", Password: "ops passphrase 1", Name: "Ops"}, tokens.RoleOps)
	if err != nil {
		t.Fatal(err)
	}
	demoted, err := s.SetRole(ctx, " OPS@example.com", tokens.RoleFan)
	if err != nil || demoted.ID != u.ID || demoted.Role != tokens.RoleFan {
		t.Fatalf("demotion: got %+v, %v; want account %d as a fan", demoted, err, u.ID)
	}
	if role, err := s.Role(ctx, u.ID); err != nil || role != tokens.RoleFan {
		t.Fatalf("role after the demotion: %q, %v; want fan", role, err)
	}
	if _, err := s.Role(ctx, u.ID+1000); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("role of a missing user: %v, want not_found", err)
	}
	if _, err := s.SetRole(ctx, "nobody@example.com", tokens.RoleOps); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("role of an unknown email: %v, want not_found", err)
	}
	if _, err := s.SetRole(ctx, "ops@example.com", "admin"); apperr.As(err).Code != "invalid_field" {
		t.Fatalf("unknown role: %v, want invalid_field", err)
	}
}

func TestRegistrationRejectsBadInputAndCreatesNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	cases := []struct {
		name string
		reg  identity.Registration
		code string
	}{
		{"short password", identity.Registration{"a@example.com", "short", "A"}, "weak_password"},
		{"long password", identity.Registration{"a@example.com", strings.Repeat("xy", 65), "A"}, "weak_password"},
		{"repeated character", identity.Registration{"a@example.com", strings.Repeat("é", 12), "A"}, "weak_password"},
		{"common password", identity.Registration{"a@example.com", "Password123", "A"}, "weak_password"},
		{"password is the email", identity.Registration{"someone@example.com", "someone@example.com", "A"}, "weak_password"},
		{"password contains the local part", identity.Registration{"someone@example.com", "xxsomeone2026", "A"}, "weak_password"},
		{"no at sign", identity.Registration{"example.com", "a long passphrase", "A"}, "invalid_field"},
		{"no domain dot", identity.Registration{"a@localhost", "a long passphrase", "A"}, "invalid_field"},
		{"two at signs", identity.Registration{"a@b@example.com", "a long passphrase", "A"}, "invalid_field"},
		{"space inside", identity.Registration{"a b@example.com", "a long passphrase", "A"}, "invalid_field"},
		{"empty email", identity.Registration{"", "a long passphrase", "A"}, "invalid_field"},
		{"empty name", identity.Registration{"a@example.com", "a long passphrase", "   "}, "invalid_field"},
		{"long name", identity.Registration{"a@example.com", "a long passphrase", strings.Repeat("n", 101)}, "invalid_field"},
		{"control in name", identity.Registration{"a@example.com", "a long passphrase", "A\x00B"}, "invalid_field"},
	}
	for _, c := range cases {
		_, err := s.Register(ctx, c.reg)
		if got := apperr.As(err); got.Code != c.code || got.Kind != apperr.Invalid {
			t.Errorf("%s: got %v, want a 422 %s", c.name, err, c.code)
		}
	}
	if _, err := s.Login(ctx, "a@example.com", "a long passphrase"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Fatalf("a rejected registration left an account behind: login gave %v", err)
	}
}

func TestHashFormatAndVerify(t *testing.T) {
	t.Parallel()
	h := identity.NewHasher(cheap, identity.HashLimits{})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "a long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the params", enc)
	}
	other, _ := h.Hash(ctx, "a long passphrase")
	if other == enc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	// A hash made with other params still verifies: they travel in the hash.
	ok, err := identity.NewHasher(identity.DefaultParams, identity.HashLimits{}).Verify(ctx, "a long passphrase", enc)
	if err != nil || !ok {
		t.Fatalf("verify with the right password: %v, %v", ok, err)
	}
	if ok, _ := h.Verify(ctx, "a long passphrasE", enc); ok {
		t.Fatal("a wrong password verified")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "plain"} {
		if _, err := h.Verify(ctx, "x", bad); err == nil {
			t.Errorf("verify against %q: got no error", bad)
		}
	}
}
