package tokens

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// A place receipt is a fan's proof of where they joined an event's queue:
// the event, the fan and the place's score (its arrival time), under a MAC
// of the ring's signing key. The waiting room lives in Redis; should an
// event's keys be lost (a node and its replica gone, a restart without
// persistence), a fan's next poll with their receipt puts them back at
// their own score, so the queue keeps its order. Compact and checked by a
// MAC rather than a JWT: every join issues one.
//
//	p1.<kid>.<event>.<user>.<score>.<mac>
type Place struct {
	EventID, UserID, Score int64
}

// placeDomain keeps a receipt's MAC from ever passing for another token's.
const placeDomain = "ticketvelo place receipt v1\x00"

// ErrBadReceipt is a place receipt that is malformed, forged, or signed by
// a key the ring no longer has.
var ErrBadReceipt = errors.New("invalid place receipt")

// IssuePlace signs the receipt of p.
func (r *Ring) IssuePlace(p Place) (string, error) {
	k, err := r.Signer()
	if err != nil {
		return "", err
	}
	body := "p1." + k.ID + "." + strconv.FormatInt(p.EventID, 10) + "." + strconv.FormatInt(p.UserID, 10) + "." + strconv.FormatInt(p.Score, 10)
	return body + "." + r.placeMAC(k.ID, body), nil
}

// VerifyPlace checks a receipt and returns its place.
func (r *Ring) VerifyPlace(receipt string) (Place, error) {
	i := strings.LastIndexByte(receipt, '.')
	if i < 0 || len(receipt) > 256 {
		return Place{}, ErrBadReceipt
	}
	body, mac := receipt[:i], receipt[i+1:]
	f := strings.Split(body, ".")
	if len(f) != 5 || f[0] != "p1" {
		return Place{}, ErrBadReceipt
	}
	want := r.placeMAC(f[1], body)
	if want == "" || !hmac.Equal([]byte(want), []byte(mac)) {
		return Place{}, ErrBadReceipt
	}
	var p Place
	var errs [3]error
	p.EventID, errs[0] = strconv.ParseInt(f[2], 10, 64)
	p.UserID, errs[1] = strconv.ParseInt(f[3], 10, 64)
	p.Score, errs[2] = strconv.ParseInt(f[4], 10, 64)
	if errors.Join(errs[:]...) != nil {
		return Place{}, ErrBadReceipt
	}
	return p, nil
}

// placeMAC is the receipt MAC of body under key kid's secret, "" when the
// ring has no secret for kid.
func (r *Ring) placeMAC(kid, body string) string {
	m, ok := r.macs[accessHeader(kid)]
	if !ok {
		return ""
	}
	var buf [32]byte
	sum := m.sum(buf[:0], placeDomain+body)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
