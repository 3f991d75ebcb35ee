package kafka_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestProduceAndConsumeGroupOverTCP sends records through the embedded
// broker with franz-go over a real TCP connection and reads them back in a
// consumer group that commits its offsets.
func TestProduceAndConsumeGroupOverTCP(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin, err := kafka.NewClient(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := kafka.EnsureTopics(ctx, admin, kafka.DefaultTopics); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	if err := kafka.EnsureTopics(ctx, admin, kafka.DefaultTopics); err != nil {
		t.Fatalf("EnsureTopics again: %v", err)
	}
	details, err := kadm.NewClient(admin).ListTopics(ctx, kafka.BookingEvents)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(details[kafka.BookingEvents].Partitions); got != 6 {
		t.Errorf("%s has %d partitions, want 6", kafka.BookingEvents, got)
	}

	producer, err := kafka.NewClient(brokers, kgo.DefaultProduceTopic(kafka.BookingEvents))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	const n = 200
	var records []*kgo.Record
	for i := range n {
		records = append(records, &kgo.Record{Key: []byte(fmt.Sprintf("order-%d", i%17)), Value: []byte(fmt.Sprint(i))})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}

	group := testenv.RandomName("group-")
	consume := func(want int) []string {
		t.Helper()
		consumer, err := kafka.NewClient(brokers, kgo.ConsumerGroup(group), kgo.ConsumeTopics(kafka.BookingEvents),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		defer consumer.Close()
		var got []string
		for len(got) < want {
			fetches := consumer.PollFetches(ctx)
			if err := fetches.Err(); err != nil {
				t.Fatalf("polling after %d records: %v", len(got), err)
			}
			fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("committing: %v", err)
			}
		}
		return got
	}
	got := consume(n)
	if len(got) != n {
		t.Fatalf("consumed %d records, want %d", len(got), n)
	}
	sort.Strings(got)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("record %s consumed twice", got[i])
		}
	}

	// The group's committed offsets hold: a new member of the same group
	// sees only what comes after.
	if err := producer.ProduceSync(ctx, &kgo.Record{Key: []byte("late"), Value: []byte("late")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if again := consume(1); len(again) != 1 || again[0] != "late" {
		t.Errorf("after committing, the group read %v, want only the late record", again)
	}
}

func TestEmbeddedBrokerKeepsRecordsAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := kafka.StartEmbedded("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()
	client, err := kafka.NewClient(addr, kgo.DefaultProduceTopic(kafka.BookingEvents))
	if err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, client, kafka.DefaultTopics); err != nil {
		t.Fatal(err)
	}
	if err := client.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	client.Close()
	b.Close()

	b2, err := kafka.StartEmbedded(addr[0], dir)
	if err != nil {
		t.Fatalf("restarting on %s: %v", addr[0], err)
	}
	defer b2.Close()
	consumer, err := kafka.NewClient(b2.Addrs(), kgo.ConsumeTopics(kafka.BookingEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	fetches := consumer.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if len(got) != 1 || got[0] != "kept" {
		t.Errorf("after a restart the broker served %v, want [kept]", got)
	}
}
