package notifier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
)

// ReplayGroup is the consumer group whose committed offsets on the
// dead-letter topic mark how far it has been replayed.
const ReplayGroup = "ticketvelo-dlq-replay"

// HeaderReplayedFrom marks a booking event put back from the dead-letter
// topic: its partition and offset there.
const HeaderReplayedFrom = "dlq-replayed-from"

// DeadLetter is one dead-lettered event, as Replay found it.
type DeadLetter struct {
	Source           string // where it sat in booking.events.dlq: partition/offset
	OrderID, Kind    string // empty when the event does not decode
	Reason, Error    string
	FailedAt, Origin string // when it was given up on; its booking.events partition/offset
}

// Replay puts the events dead-lettered since the last replay back on
// booking.events, for the notifiers to try again once the cause is mended
// (a mail server back, a template fixed), and returns them; with dryRun it
// only lists them and marks nothing. Each event's claim, closed as dead, is
// reopened with its attempts reset, so the notifier sends the mail; a mail
// that went out is never sent again, so replaying twice (say after a crash
// between putting back and recording it) sends nothing twice. An event
// still malformed goes back to the dead-letter topic.
func Replay(ctx context.Context, pool *pgxpool.Pool, brokers []string, dryRun bool) ([]DeadLetter, error) {
	client, err := kafka.NewClient(brokers)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	from, to, err := unreplayed(ctx, adm)
	if err != nil || len(from) == 0 {
		return nil, err
	}
	records, err := readRange(ctx, brokers, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(records))
	for _, r := range records {
		dl := DeadLetter{
			Source: strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10),
			Reason: header(r, HeaderDLQReason), Error: header(r, HeaderDLQError),
			FailedAt: header(r, HeaderDLQFailedAt), Origin: strings.TrimPrefix(header(r, HeaderDLQSource), kafka.BookingEvents+"/"),
		}
		ev, decodeErr := bookingevent.Decode(r.Value)
		if decodeErr == nil {
			dl.OrderID, dl.Kind = ev.OrderID, ev.Type
		}
		out = append(out, dl)
		if dryRun {
			continue
		}
		if decodeErr == nil {
			if _, err := pool.Exec(ctx, `
				UPDATE notifications SET status = 'claimed', claimed_at = '-infinity', attempts = 0
				WHERE order_id = $1 AND kind = $2 AND status = 'dead'`, ev.OrderID, ev.Type); err != nil {
				return out, fmt.Errorf("reopening the %s claim of order %s: %w", ev.Type, ev.OrderID, err)
			}
		}
		if err := client.ProduceSync(ctx, putBack(r)).FirstErr(); err != nil {
			return out, fmt.Errorf("putting dead letter %s back on %s: %w", dl.Source, kafka.BookingEvents, err)
		}
	}
	if dryRun {
		return out, nil
	}
	var done kadm.Offsets
	for p, end := range to {
		done.AddOffset(kafka.BookingDeadLetters, p, end, -1)
	}
	if err := adm.CommitAllOffsets(ctx, ReplayGroup, done); err != nil {
		return out, fmt.Errorf("recording the replay (the events are back on %s; a replay again sends nothing twice): %w", kafka.BookingEvents, err)
	}
	return out, nil
}

// unreplayed is, per partition of the dead-letter topic with events the
// last replay did not reach, where to start and the end offset.
func unreplayed(ctx context.Context, adm *kadm.Client) (from map[int32]kgo.Offset, to map[int32]int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, kafka.BookingDeadLetters)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s: %w", kafka.BookingDeadLetters, err)
	}
	ends, err := adm.ListEndOffsets(ctx, kafka.BookingDeadLetters)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing %s: %w", kafka.BookingDeadLetters, err)
	}
	done, err := adm.FetchOffsets(ctx, ReplayGroup)
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // never replayed (Kafka answers no offsets, kfake this)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading how far %s was replayed: %w", kafka.BookingDeadLetters, err)
	}
	from, to = map[int32]kgo.Offset{}, map[int32]int64{}
	ends.Each(func(end kadm.ListedOffset) {
		start := starts[end.Topic][end.Partition].Offset
		if c, ok := done.Lookup(end.Topic, end.Partition); ok && c.At > start {
			start = c.At
		}
		if start < end.Offset {
			from[end.Partition], to[end.Partition] = kgo.NewOffset().At(start), end.Offset
		}
	})
	return from, to, nil
}

// readRange reads the dead-letter topic's partitions from their start
// offsets up to (not including) their end offsets.
func readRange(ctx context.Context, brokers []string, from map[int32]kgo.Offset, to map[int32]int64) ([]*kgo.Record, error) {
	reader, err := kafka.NewClient(brokers, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{kafka.BookingDeadLetters: from}))
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	left := make(map[int32]int64, len(to))
	for p, end := range to {
		left[p] = end
	}
	var out []*kgo.Record
	for len(left) > 0 {
		fetches := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", kafka.BookingDeadLetters, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out = append(out, r)
			if r.Offset == end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return out, nil
}

// putBack is the booking event a dead letter holds, as it was first
// published, marked with where it was dead-lettered.
func putBack(r *kgo.Record) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(r.Headers)+1)
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, "dlq-") {
			headers = append(headers, h)
		}
	}
	headers = append(headers, kgo.RecordHeader{Key: HeaderReplayedFrom, Value: []byte(strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10))})
	return &kgo.Record{Topic: kafka.BookingEvents, Key: r.Key, Value: r.Value, Headers: headers}
}

// header is the value of the record's header key, or "".
func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
