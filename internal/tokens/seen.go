package tokens

import (
	"crypto/subtle"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"

	"github.com/ticketvelo/ticketvelo/internal/hugepages"
)

// seenAccess remembers the access tokens its ring verified lately, so that
// a fan's later requests skip the MAC and the claims: a waiting fan shows
// the same token every few seconds for as long as they wait, and those
// polls are most of drop day's requests.
//
// A token counts as seen only when its MAC is a remembered one and so is a
// 64-bit hash of the part the MAC signs, under a seed this process drew at
// random: passing another token's claims under a remembered MAC would take
// that MAC (as secret as the token itself) and a collision under a seed
// nobody outside sees. The MAC is compared without branching on its bytes,
// so timing tells an attacker nothing of a remembered one. Expiry is checked on every use, so a remembered token
// stops at its exp like any other, and anything that does not match goes
// on to the full check, which refuses it with its reason. The table
// belongs to its ring: a key file that retires a key is a new ring, with
// nothing remembered.
//
// Like the waiting room's fan table it is set-associative, 64-byte slots
// under striped locks; a newcomer takes the empty slot of its set or
// the one used longer ago, so the tokens of fans who keep polling stay. A
// token that lost its slot costs the full check once more, never a wrong
// answer.
type seenAccess struct {
	seed  maphash.Seed
	slots []seenSlot
	locks [256]sync.Mutex
}

type seenSlot struct {
	mac    [32]byte
	signed uint64 // maphash of header.payload
	user   int64
	exp    int64  // unix s; 0: empty
	used   uint32 // unix s of the last answer from the slot
	role   uint8  // index in roles
}

// roles are the roles an access token may carry, by seenSlot.role.
var roles = [...]string{RoleFan, RoleOps}

// newSeenAccess is a table of mb megabytes; nil (remembering nothing) for
// mb <= 0. Its slots are rounded down to a power of two.
func newSeenAccess(mb int) *seenAccess {
	n := mb << 20 / int(unsafe.Sizeof(seenSlot{}))
	if n < ways {
		return nil
	}
	for n&(n-1) != 0 {
		n &= n - 1
	}
	t := &seenAccess{seed: maphash.MakeSeed(), slots: make([]seenSlot, n)}
	hugepages.Advise(t.slots)
	return t
}

// ways is how many slots a token may sit in: with two, a table holding
// half as many tokens as slots had lost 19% of them to full sets; with
// four, 6%.
const ways = 4

// set returns the slots where signed may live, locked; the caller unlocks.
func (t *seenAccess) set(signed string) (uint64, []seenSlot, *sync.Mutex) {
	h := maphash.String(t.seed, signed)
	i := h & uint64(len(t.slots)-1) &^ (ways - 1)
	mu := &t.locks[i/ways%uint64(len(t.locks))]
	mu.Lock()
	return h, t.slots[i : i+ways], mu
}

// lookup is the access of a token seen before, unexpired at now: signed is
// its header and payload, mac its decoded signature. Only the MAC is
// secret: a slot's hash of the signed part may match the token's in the
// open, as the signed part is no secret of the slot's fan's.
func (t *seenAccess) lookup(signed string, mac *[32]byte, now time.Time) (Access, bool) {
	if t == nil {
		return Access{}, false
	}
	h, set, mu := t.set(signed)
	defer mu.Unlock()
	for i := range set {
		s := &set[i]
		if s.signed == h && subtle.ConstantTimeCompare(s.mac[:], mac[:]) == 1 && now.Unix() < s.exp {
			s.used = uint32(now.Unix())
			return Access{UserID: s.user, Role: roles[s.role], ExpiresAt: time.Unix(s.exp, 0)}, true
		}
	}
	return Access{}, false
}

// remember keeps a token that verified at now, with what it says.
func (t *seenAccess) remember(signed string, mac *[32]byte, a Access, now time.Time) {
	if t == nil {
		return
	}
	role := uint8(0)
	if a.Role == RoleOps {
		role = 1
	}
	h, set, mu := t.set(signed)
	s := &set[0]
	for i := range set[1:] {
		if set[1+i].used < s.used {
			s = &set[1+i]
		}
	}
	*s = seenSlot{mac: *mac, signed: h, user: a.UserID, exp: a.ExpiresAt.Unix(), used: uint32(now.Unix()), role: role}
	mu.Unlock()
}
