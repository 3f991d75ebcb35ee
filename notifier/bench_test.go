package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
)

// The notifier's benchmarks, written up in docs/BENCHMARKS.md ("## Notifier"):
//
//	go test ./notifier/ -run '^$' -bench BenchmarkNotifier -benchtime 1x -timeout 10m
//
// Everything runs for real on this machine: Postgres, the embedded broker
// over TCP, the outbox relay, one notifier and a go-smtp server as the mail
// sink. Orders have one ticket each (one QR code per mail).

// BenchmarkNotifierThroughput is how many mails a second one notifier sends
// to a local SMTP sink from a backlog of events already in Kafka.
func BenchmarkNotifierThroughput(b *testing.B) {
	const total = 2000
	for b.Loop() {
		f := newBenchFlow(b)
		producer, err := kafka.NewClient(f.brokers)
		if err != nil {
			b.Fatal(err)
		}
		records := make([]*kgo.Record, 0, total)
		for i := range total {
			ev := oneTicketEvent(b, i)
			payload, _ := json.Marshal(ev)
			records = append(records, &kgo.Record{Topic: kafka.BookingEvents, Key: []byte(ev.OrderID), Value: payload})
		}
		if err := producer.ProduceSync(f.ctx, records...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		producer.Close()

		start := time.Now()
		f.startBench(b)
		waitForCount(b, f.sink, total, 5*time.Minute)
		elapsed := time.Since(start)
		b.ReportMetric(float64(total)/elapsed.Seconds(), "mails/s")
		b.Logf("%d mails in %s: %.0f mails/s", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	}
}

// BenchmarkNotifierDelay confirms orders at a steady rate (outbox rows, as
// the booker's confirm writes them) and measures from each order's
// occurred_at to the moment the SMTP sink accepted its mail.
func BenchmarkNotifierDelay(b *testing.B) {
	const rate, seconds = 500, 10
	for b.Loop() {
		f := newBenchFlow(b)
		f.startRelay(b)
		f.startBench(b)

		// A schedule paces the confirmations; sixteen writers insert them, as
		// many booker requests would, so one slow commit does not hold back
		// the rest.
		var mu sync.Mutex
		occurred := map[string]time.Time{}
		work := make(chan int, rate)
		var writers sync.WaitGroup
		for range 16 {
			writers.Go(func() {
				for i := range work {
					ev := oneTicketEvent(b, i)
					ev.OccurredAt = time.Now()
					f.insertOutbox(b, ev)
					mu.Lock()
					occurred[ev.OrderID] = ev.OccurredAt
					mu.Unlock()
				}
			})
		}
		// Each confirmation has its moment on a fixed schedule: a ticker
		// drops the ticks a busy machine makes it miss, and fell short of
		// the rate.
		start := time.Now()
		for i := range rate * seconds {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
			work <- i
		}
		close(work)
		writers.Wait()
		achieved := float64(len(occurred)) / time.Since(start).Seconds()
		b.ReportMetric(achieved, "orders/s")
		waitForCount(b, f.sink, len(occurred), 5*time.Minute)

		var delays []time.Duration
		for _, m := range f.sink.received() {
			msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
			if err != nil {
				b.Fatal(err)
			}
			id := strings.Trim(msg.Header.Get("Message-ID"), "<>")
			order := strings.TrimSuffix(strings.TrimPrefix(id, "confirmed."), "@ticketvelo.test")
			delays = append(delays, m.At.Sub(occurred[order]))
		}
		slices.Sort(delays)
		p50, p99 := delays[len(delays)/2], delays[len(delays)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.Logf("%d orders at %.0f/s (target %d/s): order-to-mail p50 %s, p99 %s, max %s", len(delays), achieved, rate, p50.Round(time.Millisecond), p99.Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
	}
}

func newBenchFlow(b *testing.B) *flow {
	b.Helper()
	return newFlowTB(b, sinkOptions{})
}

// startBench runs one notifier with the production defaults.
func (f *flow) startBench(b *testing.B) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.MailFrom, cfg.ConsumerGroup = "TicketVelo <tickets@ticketvelo.test>", "bench"
	f.start(b, f.smtpMailer(b, "", ""), cfg, graceful)
}

func oneTicketEvent(tb testing.TB, i int) bookingevent.Event {
	ev := sampleEvent(newOrderID(tb), fmt.Sprintf("fan%d@example.com", i))
	ev.Tickets = ev.Tickets[:1]
	ev.OccurredAt = time.Now()
	return ev
}

func waitForCount(tb testing.TB, sink *smtpSink, n int, timeout time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for sink.count() < n {
		if ctx.Err() != nil {
			tb.Fatalf("%d of %d mails after %s", sink.count(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
