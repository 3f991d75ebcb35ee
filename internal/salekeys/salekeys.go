// Package salekeys names the Redis keys that the waiting room and the
// booker both read, so neither rebuilds the other's layout by hand:
//
//   - the booker checks each hold's admission token against the waiting
//     room's live admissions (and reads why one ended) in the script that
//     claims the hold, so a fan who left, finished or timed out cannot buy
//     past the cap;
//   - the admission step reads the booker's taken-seat bitmap, so it admits
//     nobody to an event with no seat left.
//
// Every key carries the event's hash tag, {<event id>}, so on Redis Cluster
// they all live in the event's slot and one script may read them together.
// The prefix must not contain braces, or the tag would be another.
package salekeys

import "strconv"

func tag(eventID int64) string { return "{" + strconv.FormatInt(eventID, 10) + "}" }

// Room is the common head of an event's waiting-room keys.
func Room(prefix string, eventID int64) string { return prefix + "wr:" + tag(eventID) + ":" }

// Booker is the common head of an event's booker keys.
func Booker(prefix string, eventID int64) string { return prefix + "bk:" + tag(eventID) + ":" }

// Active is the sorted set of admitted fans (user id) scored by the
// admission's expiry in unix milliseconds: whole seconds, the admission
// token's exp. A fan is admitted while their score is in the future.
func Active(prefix string, eventID int64) string { return Room(prefix, eventID) + "active" }

// Ended is the hash of fan (user id) to why their last place ended:
// "timeout", "done" or "abandoned". A fan who left has no entry.
func Ended(prefix string, eventID int64) string { return Room(prefix, eventID) + "ended" }

// Taken is the bitmap of the event's taken seats (held or sold): bit n is
// seat_no n. The bit at offset capacity is a sentinel, set whenever the
// bitmap is complete; without it the bitmap is missing or being rebuilt and
// says nothing.
func Taken(prefix string, eventID int64) string { return Booker(prefix, eventID) + "taken" }

// The ops console's figures are kept in Redis as one hash per sample
// interval, written by every process that sees a part of them (the bookers
// their holds and orders, the gateways' admission steps the queue), so a
// console served by any gateway shows the same last 15 minutes, also after
// a reload.
const (
	// OpsInterval is the length of one sample.
	OpsInterval = 5 // seconds
	// OpsKeep is how long a sample is kept: the console's 15 minutes and a
	// minute to spare.
	OpsKeep = 16 * 60 // seconds
)

// The fields of an event's sample hash (OpsSample) and of the bookers'
// (OpsBookers).
const (
	OpsHoldsCreated  = "holds_201"  // holds made (not replays), added up
	OpsHoldsConflict = "holds_409"  // holds refused with 409, added up
	OpsOrders        = "orders"     // orders confirmed, added up
	OpsAdmitted      = "admitted"   // fans admitted, added up
	OpsQueue         = "queue"      // queue length at the sample's last step
	OpsSeatsLeft     = "seats_left" // seats neither held nor sold, at its last step
	OpsRequests      = "requests"   // holds and confirms the bookers answered, added up
	OpsErrors        = "errors"     // of which failed (5xx), added up
	OpsP99Prefix     = "p99_us."    // + a booker's instance id: its p99 in µs
)

// OpsSample is the hash of an event's figures for the sample interval that
// starts at the unix second start (a multiple of OpsInterval).
func OpsSample(prefix string, eventID int64, start int64) string {
	return prefix + "ops:" + tag(eventID) + ":" + strconv.FormatInt(start, 10)
}

// OpsBookers is the hash of the bookers' latency and errors, over every
// event, for the sample interval that starts at the unix second start.
func OpsBookers(prefix string, start int64) string {
	return prefix + "ops:bookers:" + strconv.FormatInt(start, 10)
}
