package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/crypto/argon2"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// Params are the argon2id cost settings. They are written into every hash,
// so raising them later still verifies the passwords hashed before.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams follow OWASP's first argon2id recommendation (19 MiB, two
// passes, one lane): ~30 ms on one core here, which a login can afford and a
// stolen table cannot.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashLimits bound the hashing a Hasher does at once. Each argon2id hash
// takes a core and MemoryKiB for tens of milliseconds, so a burst of logins
// must neither run them all at once nor pile up waiting without end.
type HashLimits struct {
	// Concurrency is how many hashes run at once; 0 is twice GOMAXPROCS.
	Concurrency int
	// Wait is the longest a request waits for a hash to start before it is
	// refused with ErrBusy; 0 waits as long as its context allows.
	Wait time.Duration
}

// ErrBusy is a hash that could not start within HashLimits.Wait: too many
// sign-ins at once. Clients may retry after RetryAfter seconds (the copy
// a Hasher returns says how many).
var ErrBusy = apperr.New(apperr.Unavailable, "unavailable", "too many sign-ins at once; try again shortly")

var hashBusy = metrics.GetOrCreateCounter(promtext.Help("ticketvelo_password_hash_busy_total", "Sign-ins refused with 503 because no password hash slot came free in time."))

// Hasher hashes and checks passwords with argon2id, a few at a time
// (HashLimits).
type Hasher struct {
	params Params
	slots  chan struct{}
	wait   time.Duration
	busy   *apperr.Error
}

// NewHasher returns a hasher with the costs p and the limits l.
func NewHasher(p Params, l HashLimits) *Hasher {
	n := l.Concurrency
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	busy := *ErrBusy
	// About as long as the wait that just failed: the queue ahead of the
	// client will not have drained much sooner.
	busy.RetryAfter = apperr.RetryAfterSeconds(l.Wait)
	busy.Message = fmt.Sprintf("too many sign-ins at once; try again in %d s", busy.RetryAfter)
	return &Hasher{params: p, slots: make(chan struct{}, n), wait: l.Wait, busy: &busy}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil // a free slot: no timer needed
	default:
	}
	var timeout <-chan time.Time
	if h.wait > 0 {
		t := time.NewTimer(h.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timeout:
		hashBusy.Inc()
		return h.busy
	case <-ctx.Done():
		return fmt.Errorf("waiting to hash a password: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the password's hash in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$key).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("drawing a salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, a hash made by Hash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

func decodeHash(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, errBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.MemoryKiB == 0 || p.MemoryKiB > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return Params{}, nil, nil, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, errBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
