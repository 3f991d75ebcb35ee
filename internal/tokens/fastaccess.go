package tokens

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// A fan's first request to a gateway verifies their access token, and on
// drop day that is every fan at once. golang-jwt takes ~10 µs and 66
// allocations for an HS256 token, most of it decoding the header and the
// claims through maps and reflection; the HMAC itself is ~1 µs. The fast
// path below accepts only the exact header this ring's keys sign with, so
// after the MAC has proved the token ours the claims need no suspicion:
// they are what IssueAccess wrote. Anything else, every refusal included,
// goes the general way, which says why.

// strict decodes base64url as golang-jwt's strict decoding does: unused
// bits must be zero, so one token has one spelling.
var strict = base64.RawURLEncoding.Strict()

// macKey is one key's HS256 secret with reusable MAC states.
type macKey struct {
	pool sync.Pool // of hash.Hash
}

func newMACKey(secret []byte) *macKey {
	return &macKey{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
}

// sum appends the MAC of input to dst.
func (m *macKey) sum(dst []byte, input string) []byte {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(bytesOf(input))
	dst = h.Sum(dst)
	m.pool.Put(h)
	return dst
}

// accessHeader is the encoded header IssueAccess writes under kid
// (golang-jwt marshals the header map with its keys sorted).
func accessHeader(kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": kid, "typ": "JWT"})
	return base64.RawURLEncoding.EncodeToString(h)
}

// fastAccess verifies an access token this ring signed with its own header
// and whose claims are valid now; ok is false for anything else. A token
// the ring remembers (seenAccess) skips the MAC and the claims.
func (r *Ring) fastAccess(token string, now time.Time) (Access, bool) {
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	m, known := r.macs[head]
	if !ok1 || !ok2 || !known || len(sig) != 43 || len(payload) > 1024 {
		return Access{}, false
	}
	var given [32]byte
	if n, err := strict.Decode(given[:], bytesOf(sig)); err != nil || n != len(given) {
		return Access{}, false
	}
	signed := token[:len(head)+1+len(payload)]
	if a, ok := r.seen.lookup(signed, &given, now); ok {
		accessSeen.Inc()
		return a, true
	}
	var mac [32]byte
	if !hmac.Equal(m.sum(mac[:0], signed), given[:]) {
		return Access{}, false
	}
	var claims [768]byte
	raw, err := strict.AppendDecode(claims[:0], bytesOf(payload))
	if err != nil {
		return Access{}, false
	}
	a, ok := ourClaims(raw, now)
	if ok {
		accessFast.Inc()
		r.seen.remember(signed, &given, a, now)
	}
	return a, ok
}

// bytesOf is s's bytes as they are, for reading only: a decoder or a hash
// keeps none of what it is given, and a copy would cost an allocation.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ourClaims reads the claims of a token the MAC proved IssueAccess wrote,
// so they are golang-jwt's encoding of accessClaims: plain strings without
// escapes and a whole number exp. Whatever it does not find as expected is
// left to the general path.
func ourClaims(raw []byte, now time.Time) (Access, bool) {
	role, ok1 := stringClaim(raw, `"role":"`)
	iss, ok2 := stringClaim(raw, `"iss":"`)
	sub, ok3 := stringClaim(raw, `"sub":"`)
	exp, ok4 := intClaim(raw, `"exp":`)
	aud := bytes.Contains(raw, []byte(`"aud":["`+AudienceAccess+`"]`))
	uid, err := strconv.ParseInt(string(sub), 10, 64) // no copy: the string does not outlive the call
	valid := ok1 && ok2 && ok3 && ok4 && aud && err == nil && uid > 0 && string(iss) == Issuer &&
		now.Unix() < exp
	if !valid {
		return Access{}, false
	}
	// The role as one of the constants, so the answer holds no copy.
	switch string(role) {
	case RoleFan:
		return Access{UserID: uid, Role: RoleFan, ExpiresAt: time.Unix(exp, 0)}, true
	case RoleOps:
		return Access{UserID: uid, Role: RoleOps, ExpiresAt: time.Unix(exp, 0)}, true
	}
	return Access{}, false
}

// stringClaim is the string after key, up to its closing quote.
func stringClaim(raw []byte, key string) ([]byte, bool) {
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := raw[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 {
		return nil, false
	}
	return v[:j], true
}

// intClaim is the whole number after key.
func intClaim(raw []byte, key string) (int64, bool) {
	i := bytes.Index(raw, []byte(key))
	if i < 0 {
		return 0, false
	}
	v := raw[i+len(key):]
	j := 0
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(v[:j]), 10, 64)
	return n, err == nil
}
