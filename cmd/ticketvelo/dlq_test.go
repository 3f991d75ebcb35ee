package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/notifier"
)

// The command lists a dead letter on a dry run, puts it back on
// booking.events on a real one, and has nothing left to do after.
func TestDLQReplayPutsDeadLettersBack(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := kafka.EnsureTopics(ctx, client, kafka.DefaultTopics); err != nil {
		t.Fatal(err)
	}
	dead := &kgo.Record{Topic: kafka.BookingDeadLetters, Key: []byte("order-1"), Value: []byte(`{"type":"booking.confirmed","order_id":`),
		Headers: []kgo.RecordHeader{{Key: "type", Value: []byte("booking.confirmed")}, {Key: notifier.HeaderDLQReason, Value: []byte("malformed")}}}
	if err := client.ProduceSync(ctx, dead).FirstErr(); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{"DATABASE_URL": testenv.DatabaseURL(t), "KAFKA_BROKERS": brokers[0]}[k]
	}
	replay := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"dlq", "replay"}, args...), &out, &errOut, getenv); err != nil {
			t.Fatalf("dlq replay %v: %v (%s)", args, err, errOut.String())
		}
		return out.String()
	}
	if out := replay("--dry-run"); !strings.Contains(out, "malformed") || !strings.Contains(out, "1 dead letters to replay (dry run") {
		t.Fatalf("dry run printed:\n%s", out)
	}
	if out := replay(); !strings.Contains(out, "put 1 dead letters back") {
		t.Fatalf("replay printed:\n%s", out)
	}
	if out := replay(); !strings.Contains(out, "put 0 dead letters back") {
		t.Fatalf("a second replay printed:\n%s", out)
	}

	reader, err := kafka.NewClient(brokers, kgo.ConsumeTopics(kafka.BookingEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var back []*kgo.Record
	for len(back) == 0 && ctx.Err() == nil {
		back = append(back, reader.PollFetches(ctx).Records()...)
	}
	if len(back) != 1 || string(back[0].Key) != "order-1" || string(back[0].Value) != string(dead.Value) {
		t.Fatalf("booking.events holds %d records, want the dead letter back", len(back))
	}
	for _, h := range back[0].Headers {
		if h.Key == notifier.HeaderDLQReason {
			t.Error("the put-back event still carries the dead-letter headers")
		}
	}
}
