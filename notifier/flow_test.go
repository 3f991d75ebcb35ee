package notifier

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/booker/outbox"
	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// flow is the path of a confirmation through the real stores: the outbox in
// Postgres, the relay, the embedded broker over TCP, the notifier and an
// SMTP server speaking the protocol.
type flow struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	brokers []string
	sink    *smtpSink
	signer  *tokens.Ring
	scanner *tokens.Ring
}

func newFlow(t *testing.T, sink sinkOptions) *flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	_, pool := testenv.Postgres(t)
	f := &flow{ctx: ctx, pool: pool, brokers: testenv.Kafka(t), sink: startSMTP(t, sink)}
	f.signer, f.scanner = testRing(t)
	createTopics(t, f.brokers)
	return f
}

func createTopics(tb testing.TB, brokers []string) {
	tb.Helper()
	client, err := kafka.NewClient(brokers)
	if err != nil {
		tb.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, client, kafka.DefaultTopics); err != nil {
		tb.Fatal(err)
	}
}

// startRelay runs an outbox relay until the test ends.
func (f *flow) startRelay(t *testing.T) {
	t.Helper()
	relay := outbox.NewRelay(f.pool, f.brokers, outbox.Options{PollInterval: 10 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 250 * time.Millisecond}, zerolog.Nop())
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
}

// testOptions are fast retries and a short lease, for tests.
func testOptions() Options {
	return Options{
		From: "TicketVelo <tickets@ticketvelo.test>", Group: "notifier-test",
		MaxAttempts: 3, RetryBackoff: 20 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond,
		ClaimLease: 2 * time.Second,
	}
}

// runningNotifier is a notifier running in the background.
type runningNotifier struct {
	stop func() // cancels its context and waits for Run to return
}

// start runs a notifier delivering with mailer; it stops when the test ends
// at the latest.
func (f *flow) start(t *testing.T, mailer Mailer, opts Options, mode stopMode) *runningNotifier {
	t.Helper()
	n, err := New(f.pool, f.brokers, f.signer, mailer, opts, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- n.run(ctx, mode) }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("notifier: %v", err)
		}
		mailer.Close()
	}
	t.Cleanup(stop)
	return &runningNotifier{stop: stop}
}

func (f *flow) smtpMailer(t *testing.T, user, pass string) Mailer {
	t.Helper()
	m, err := NewSMTPMailer(f.sink.URL(user, pass), f.sink.ClientTLS, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newOrderID(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// insertOutbox writes an event to the outbox as the booker's confirm and
// cancel do, in a transaction of its own.
func (f *flow) insertOutbox(tb testing.TB, ev bookingevent.Event) {
	tb.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = f.pool.Exec(f.ctx, `INSERT INTO outbox (topic, key, type, payload) VALUES ($1, $2, $3, $4)`,
		kafka.BookingEvents, ev.OrderID, ev.Type, payload)
	if err != nil {
		tb.Errorf("inserting outbox row: %v", err)
	}
}

// confirm writes the confirmation of a new order and returns it.
func (f *flow) confirm(tb testing.TB, email string) bookingevent.Event {
	tb.Helper()
	ev := sampleEvent(newOrderID(tb), email)
	ev.OccurredAt = time.Now()
	f.insertOutbox(tb, ev)
	return ev
}

// waitForMails waits until the sink accepted n messages.
func (f *flow) waitForMails(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		if got := f.sink.count(); got < n {
			return fmt.Errorf("%d of %d mails received", got, n)
		}
		return nil
	})
}

// notificationStatus counts the notifications rows by status.
func (f *flow) notificationStatus(t *testing.T) map[string]int {
	t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT status, count(*) FROM notifications GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// assertEachOnce checks that every order got exactly one mail of kind and
// nothing else arrived.
func (f *flow) assertEachOnce(t *testing.T, orders []string, kind string) {
	t.Helper()
	byID := f.sink.byMessageID(t)
	total := 0
	for _, c := range byID {
		total += c
	}
	if total != len(orders) || len(byID) != len(orders) {
		t.Errorf("received %d mails with %d distinct Message-IDs, want %d orders mailed once each", total, len(byID), len(orders))
	}
	for _, o := range orders {
		id := "<" + strings.TrimPrefix(kind, "booking.") + "." + o + "@ticketvelo.test>"
		if c := byID[id]; c != 1 {
			t.Errorf("order %s mailed %d times, want once", o, c)
		}
	}
}

func counter(name string) uint64 { return metrics.GetOrCreateCounter(name).Get() }

// A confirmed order's mail arrives over STARTTLS with AUTH, shows the seats
// and carries QR codes that decode to ticket codes the door verifies with
// the public key; the same event relayed twice is mailed once, and the
// cancellation that follows is mailed too.
func TestConfirmedOrderIsMailedWithVerifiableQRCodes(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{tls: true, users: map[string]string{"notifier": "s3cret"}})
	f.startRelay(t)
	f.start(t, f.smtpMailer(t, "notifier", "s3cret"), testOptions(), graceful)

	ev := f.confirm(t, "ana@example.com")
	f.waitForMails(t, 1, 30*time.Second)
	got := f.sink.received()[0]
	if !got.TLS || got.User != "notifier" || got.To != "ana@example.com" || got.From != "tickets@ticketvelo.test" {
		t.Errorf("delivery tls=%v user=%q from=%q to=%q, want STARTTLS, AUTH as notifier, tickets@ to ana@", got.TLS, got.User, got.From, got.To)
	}
	p := parseMail(t, got.Data)
	for _, want := range []string{"Floor A, row 1, seat 13", "Floor A, row 1, seat 14", "£378.00", ev.OrderID, "Sunday 14 March 2027, 19:30 GMT"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("mail text lacks %q", want)
		}
	}
	tickets := map[string]bool{}
	for _, img := range p.Images {
		code, err := f.scanner.VerifyTicket(decodeQR(t, img), time.Now())
		if err != nil {
			t.Fatalf("ticket code does not verify with the public key: %v", err)
		}
		if code.OrderID != ev.OrderID {
			t.Errorf("ticket code for order %s, want %s", code.OrderID, ev.OrderID)
		}
		tickets[code.TicketID] = true
	}
	if len(tickets) != 2 || !tickets[ev.Tickets[0].ID] || !tickets[ev.Tickets[1].ID] {
		t.Errorf("QR codes carry tickets %v, want %s and %s", tickets, ev.Tickets[0].ID, ev.Tickets[1].ID)
	}

	// The relay may publish a row twice (a crash before its commit); the
	// claim makes the second copy a no-op.
	skipped := counter("ticketvelo_notifier_duplicates_skipped_total")
	f.insertOutbox(t, ev)
	canceled := ev
	canceled.Type = bookingevent.Canceled
	f.insertOutbox(t, canceled)
	f.waitForMails(t, 2, 30*time.Second)
	testenv.Eventually(t, 10*time.Second, func() error {
		if counter("ticketvelo_notifier_duplicates_skipped_total") == skipped {
			return fmt.Errorf("the duplicate event was not consumed yet")
		}
		return nil
	})
	if n := f.sink.count(); n != 2 {
		t.Errorf("received %d mails, want the confirmation and the cancellation", n)
	}
	if p := parseMail(t, f.sink.received()[1].Data); !strings.HasPrefix(p.Header.Get("Message-ID"), "<canceled.") || len(p.Images) != 0 {
		t.Errorf("second mail %s with %d images, want the cancellation without codes", p.Header.Get("Message-ID"), len(p.Images))
	}
	if st := f.notificationStatus(t); st["sent"] != 2 || len(st) != 1 {
		t.Errorf("notifications by status = %v, want 2 sent", st)
	}
}
