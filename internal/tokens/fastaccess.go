package tokens

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
	h.Write([]byte(input))
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

// fastClaims are the claims IssueAccess writes.
type fastClaims struct {
	Iss  string   `json:"iss"`
	Sub  string   `json:"sub"`
	Aud  []string `json:"aud"`
	Exp  int64    `json:"exp"`
	Role string   `json:"role"`
}

// fastAccess verifies an access token this ring signed with its own header
// and whose claims are valid now; ok is false for anything else.
func (r *Ring) fastAccess(token string, now time.Time) (Access, bool) {
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	m, known := r.macs[head]
	if !ok1 || !ok2 || !known || len(sig) != 43 {
		return Access{}, false
	}
	var buf [96]byte
	want := m.sum(buf[:0], token[:len(head)+1+len(payload)])
	got, err := strict.AppendDecode(buf[len(want):len(want)], []byte(sig))
	if err != nil || !hmac.Equal(want, got) {
		return Access{}, false
	}
	raw, err := strict.DecodeString(payload)
	if err != nil || !bytes.HasPrefix(raw, []byte("{")) {
		return Access{}, false
	}
	var c fastClaims
	if json.Unmarshal(raw, &c) != nil {
		return Access{}, false
	}
	uid, err := strconv.ParseInt(c.Sub, 10, 64)
	valid := err == nil && uid > 0 && c.Iss == Issuer && slices.Contains(c.Aud, AudienceAccess) &&
		now.Unix() < c.Exp && (c.Role == RoleFan || c.Role == RoleOps)
	if !valid {
		return Access{}, false
	}
	return Access{UserID: uid, Role: c.Role, ExpiresAt: time.Unix(c.Exp, 0)}, true
}
