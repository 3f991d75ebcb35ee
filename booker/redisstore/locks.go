package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"time"

	"github.com/redis/rueidis"
)

// compareAndDelete releases a lock only for the owner that took it.
const compareAndDeleteScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

var (
	compareAndDelete    = rueidis.NewLuaScript(compareAndDeleteScript)
	compareAndDeleteSHA = func() string {
		sum := sha1.Sum([]byte(compareAndDeleteScript))
		return hex.EncodeToString(sum[:])
	}()
)

// Locks is the seat locks one request holds, under one random owner token.
type Locks struct {
	r     *Store
	keys  []string
	owner string
}

// NewOwner is a random owner token for a set of locks (and, cut short,
// for a simulated payment reference).
func NewOwner() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TryLock takes the locks of seats (sorted) with SET NX PX, all or nothing:
// when any is held by someone else, the ones it took are released by
// compare-and-delete and busy names the seats it could not lock. With
// sentinel >= 0 it also reads the seats' bits, after the locks in the same
// pipeline, and returns the taken ones: under the locks the bitmap is exact
// for these seats. (On a cluster the read may run beside the locks instead
// of after them; a read that early only lets a request on to Postgres.)
func (r *Store) TryLock(ctx context.Context, eventID int64, seats []int, ttl time.Duration, owner string, sentinel int) (locks *Locks, busy, taken []int, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cancel()
	ls := &Locks{r: r, owner: owner, keys: make([]string, len(seats))}
	cmds := make(rueidis.Commands, len(seats), len(seats)+1)
	for i, s := range seats {
		ls.keys[i] = r.lockKey(eventID, s)
		cmds[i] = r.client.B().Set().Key(ls.keys[i]).Value(owner).Nx().PxMilliseconds(ttl.Milliseconds()).Build()
	}
	if sentinel >= 0 {
		cmds = append(cmds, r.bitsCommand(eventID, sentinel, seats))
	}
	results := r.client.DoMulti(cctx, cmds...)
	var got []string
	var failure error
	for i, res := range results[:len(seats)] {
		err := res.Error()
		switch {
		case err == nil:
			got = append(got, ls.keys[i])
		case rueidis.IsRedisNil(err):
			busy = append(busy, seats[i])
		default:
			failure = err
		}
	}
	if failure != nil || len(busy) > 0 {
		partial := &Locks{r: r, owner: owner, keys: got}
		partial.Release(ctx)
		if failure != nil {
			return nil, nil, nil, r.failed(failure)
		}
		return nil, busy, nil, nil
	}
	r.succeeded()
	if sentinel >= 0 {
		// A failed read only means Postgres decides.
		taken, _, _ = parseBits(results[len(seats)], seats)
	}
	return ls, nil, taken, nil
}

// Release deletes the locks that are still this owner's; a lock that
// expired and was taken by another request stays with it.
func (l *Locks) Release(ctx context.Context) {
	if l == nil || len(l.keys) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.r.timeout)
	defer cancel()
	execs := make([]rueidis.LuaExec, len(l.keys))
	for i, k := range l.keys {
		execs[i] = rueidis.LuaExec{Keys: []string{k}, Args: []string{l.owner}}
	}
	for _, res := range compareAndDelete.ExecMulti(cctx, l.r.client, execs...) {
		if err := res.Error(); err != nil {
			// An unreleased lock expires by its TTL; Postgres decides anyway.
			_ = l.r.failed(err)
			return
		}
	}
}
