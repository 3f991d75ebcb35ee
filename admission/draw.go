package admission

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// drawLease is how long a gateway may go without progress before another
// takes the draw over.
const drawLease = 15 * time.Second

// DrawScore is a pre-queue fan's place in the draw: the first 52 bits of
// HMAC-SHA256(seed, decimal user id), big-endian. 52 bits keep the score
// exact in a Redis sorted set, whose scores are doubles, and below the
// scores of fans who join after the opening (2^52 + arrival number).
func DrawScore(seed []byte, userID int64) uint64 {
	m := hmac.New(sha256.New, seed)
	m.Write(strconv.AppendInt(nil, userID, 10))
	return binary.BigEndian.Uint64(m.Sum(nil)) >> 12
}

// DrawOrder is the order the draw gives fans: by DrawScore, and in the
// (vanishingly rare) tie by the decimal ids compared as text, as Redis
// orders equal scores. Anyone with the published seed and the list of
// pre-queue fans can recompute it.
func DrawOrder(seed []byte, userIDs []int64) []int64 {
	type drawn struct {
		score uint64
		id    string
		user  int64
	}
	all := make([]drawn, len(userIDs))
	for i, u := range userIDs {
		all[i] = drawn{DrawScore(seed, u), strconv.FormatInt(u, 10), u}
	}
	slices.SortFunc(all, func(a, b drawn) int {
		if a.score != b.score {
			if a.score < b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]int64, len(all))
	for i, d := range all {
		out[i] = d.user
	}
	return out
}

// newSeed draws 32 random bytes, hex-encoded.
func newSeed(random io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("drawing a seed: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Draw runs the event's pre-queue draw if the sale has opened and the queue
// is not open yet: it draws and publishes a seed, places every pre-queue
// fan by DrawScore, and opens the queue. Gateways may call it together: a
// lease lets one work, and the result does not depend on which. It reports
// whether this call opened the queue.
func (r *Room) Draw(ctx context.Context, eventID int64, opensAt, now time.Time) (bool, error) {
	k := r.eventKeys(eventID)
	fresh, err := newSeed(r.random)
	if err != nil {
		return false, err
	}
	owner, err := newSeed(r.random)
	if err != nil {
		return false, err
	}
	lease := strconv.FormatInt(drawLease.Milliseconds(), 10)
	seedHex, err := drawBeginScript.Exec(ctx, r.client, []string{k.meta, k.lease},
		[]string{strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(opensAt.UnixMilli(), 10), fresh, owner, lease}).ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return false, nil // not due, already open, or another gateway is drawing
		}
		return false, fmt.Errorf("starting the draw of event %d: %w", eventID, err)
	}
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		return false, fmt.Errorf("event %d has a seed that is not hex: %w", eventID, err)
	}
	// No fan enters the pre-queue once the draw began, so one pass of SSCAN
	// sees every fan still in it.
	var cursor uint64
	for {
		page, err := r.client.Do(ctx, r.client.B().Sscan().Key(k.pre).Cursor(cursor).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return false, fmt.Errorf("reading the pre-queue of event %d: %w", eventID, err)
		}
		if held, err := r.placeDrawn(ctx, k, seed, owner, lease, page.Elements); err != nil || !held {
			return false, err // !held: too slow, another gateway holds the lease now
		}
		if cursor = page.Cursor; cursor == 0 {
			break
		}
	}
	opened, err := drawFinishScript.Exec(ctx, r.client, []string{k.meta, k.pre, k.lease},
		[]string{strconv.FormatInt(now.UnixMilli(), 10), owner}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("opening the queue of event %d: %w", eventID, err)
	}
	if opened == 1 {
		r.markOpen(eventID)
	}
	return opened == 1, nil
}

// placeDrawn moves a page of the pre-queue's fans into the queue at their
// drawn places, while this draw still holds the lease (held).
func (r *Room) placeDrawn(ctx context.Context, k *eventKeys, seed []byte, owner, lease string, fans []string) (held bool, err error) {
	if len(fans) == 0 {
		return true, nil
	}
	args := make([]string, 0, 2+2*len(fans))
	args = append(args, owner, lease)
	for _, m := range fans {
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return false, fmt.Errorf("pre-queue of event %d holds %q, not a user id", k.event, m)
		}
		args = append(args, m, strconv.FormatUint(DrawScore(seed, id), 10))
	}
	moved, err := drawMoveScript.Exec(ctx, r.client, []string{k.pre, k.queue, k.lease}, args).AsInt64()
	if err != nil {
		return false, fmt.Errorf("placing drawn fans of event %d: %w", k.event, err)
	}
	return moved >= 0, nil
}
