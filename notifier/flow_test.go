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
	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
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

	// The embedded broker, which a test may stop and start again on the
	// same address and log directory.
	broker    *kafka.Embedded
	brokerDir string
}

func newFlow(t *testing.T, sink sinkOptions) *flow { return newFlowTB(t, sink) }

func newFlowTB(t testing.TB, sink sinkOptions) *flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	_, pool := testenv.Postgres(t)
	f := &flow{ctx: ctx, pool: pool, sink: startSMTP(t, sink), brokerDir: t.TempDir()}
	f.signer, f.scanner = testRing(t)
	broker, err := kafka.StartEmbedded("127.0.0.1:0", f.brokerDir)
	if err != nil {
		t.Fatal(err)
	}
	f.broker, f.brokers = broker, broker.Addrs()
	t.Cleanup(func() { f.broker.Close() })
	createTopics(t, f.brokers)
	return f
}

// restartBroker starts a broker again where the stopped one was.
func (f *flow) restartBroker(t *testing.T) {
	t.Helper()
	b, err := kafka.StartEmbedded(f.brokers[0], f.brokerDir)
	if err != nil {
		t.Fatalf("restarting the broker on %s: %v", f.brokers[0], err)
	}
	f.broker = b
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
func (f *flow) startRelay(t testing.TB) {
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

// testConfig is the default settings with fast retries and a short lease,
// for tests.
func testConfig() Config {
	c := DefaultConfig()
	c.MailFrom, c.ConsumerGroup = "TicketVelo <tickets@ticketvelo.test>", "notifier-test"
	c.MaxAttempts, c.RetryBackoff, c.RetryBackoffMax = 3, 20*time.Millisecond, 100*time.Millisecond
	c.ClaimLease = 2 * time.Second
	return c
}

// runningNotifier is a notifier running in the background.
type runningNotifier struct {
	stop func() // cancels its context and waits for Run to return
}

// start runs a notifier delivering with mailer; it stops when the test ends
// at the latest.
func (f *flow) start(t testing.TB, mailer Mailer, cfg Config, mode stopMode) *runningNotifier {
	t.Helper()
	return f.startWith(t, mailer, cfg, mode)
}

// startWith is start with extra options for the notifier's consumer.
func (f *flow) startWith(t testing.TB, mailer Mailer, cfg Config, mode stopMode, kafkaOpts ...kgo.Opt) *runningNotifier {
	t.Helper()
	n, err := New(cfg, Deps{Pool: f.pool, Brokers: f.brokers, Ring: f.signer, Mailer: mailer, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	n.kafkaOpts = kafkaOpts
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

func (f *flow) smtpMailer(t testing.TB, user, pass string) Mailer {
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
	_, err = f.pool.Exec(f.ctx, outbox.InsertSQL, kafka.BookingEvents, ev.OrderID, ev.Type, payload)
	if err != nil {
		tb.Errorf("inserting outbox row: %v", err)
	}
}

// confirm writes the confirmation of a new order of two seats and returns
// it.
func (f *flow) confirm(tb testing.TB, email string) bookingevent.Event {
	tb.Helper()
	ev := sampleEvent(newOrderID(tb), email)
	ev.OccurredAt = time.Now()
	f.insertOutbox(tb, ev)
	return ev
}

// confirmMany writes n one-seat confirmations, a few at a time like a drop's
// traffic, and returns their order ids.
func (f *flow) confirmMany(tb testing.TB, n int) []string {
	tb.Helper()
	orders := make([]string, 0, n)
	for i := range n {
		ev := sampleEvent(newOrderID(tb), fmt.Sprintf("fan%d@example.com", i))
		ev.Tickets = ev.Tickets[:1]
		ev.OccurredAt = time.Now()
		f.insertOutbox(tb, ev)
		orders = append(orders, ev.OrderID)
		if i%25 == 24 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return orders
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
	f.start(t, f.smtpMailer(t, "notifier", "s3cret"), testConfig(), graceful)

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
	f.insertOutbox(t, ev)
	canceled := ev
	canceled.Type = bookingevent.Canceled
	f.insertOutbox(t, canceled)
	f.waitForMails(t, 2, 30*time.Second)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := f.uncommitted(t, testConfig().ConsumerGroup); n != 0 {
			return fmt.Errorf("%d events not handled yet", n)
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

// A notifier killed while 1,000 orders flow (its context canceled with no
// clean shutdown: claimed mails abandoned unsent, the batch in hand not
// committed) is replaced by another: every order is mailed exactly once.
func TestKilledNotifierLosesAndDoublesNoMail(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{})
	f.startRelay(t)
	cfg := testConfig()
	cfg.ClaimLease = time.Second
	killed := f.start(t, f.smtpMailer(t, "", ""), cfg, crash)

	const total = 1000
	ordersCh := make(chan []string, 1)
	go func() { ordersCh <- f.confirmMany(t, total) }()
	f.waitForMails(t, 150, time.Minute)
	takeovers := counter("ticketvelo_notifier_claim_takeovers_total")
	killed.stop()
	atKill := f.sink.count()

	f.start(t, f.smtpMailer(t, "", ""), cfg, graceful)
	orders := <-ordersCh
	f.waitForMails(t, total, 2*time.Minute)
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := f.notificationStatus(t); st["sent"] != total {
			return fmt.Errorf("notifications %v, want %d sent", st, total)
		}
		return nil
	})
	f.assertEachOnce(t, orders, bookingevent.Confirmed)
	t.Logf("killed after %d of %d mails; claims taken over from the killed notifier: %d",
		atKill, total, counter("ticketvelo_notifier_claim_takeovers_total")-takeovers)
}

// The broker goes away while orders are confirmed: the confirmations still
// commit (they only write the outbox), and once a broker is back on the same
// address and log, every mail is delivered, once.
func TestBrokerOutageDelaysButLosesNoMail(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{})
	f.startRelay(t)
	f.start(t, f.smtpMailer(t, "", ""), testConfig(), graceful)

	before := f.confirmMany(t, 50)
	f.waitForMails(t, 50, time.Minute)

	f.broker.Close()
	during := f.confirmMany(t, 100)
	time.Sleep(time.Second) // relay and consumer fail and back off meanwhile
	if n := f.sink.count(); n != 50 {
		t.Errorf("%d mails with the broker down, want only the 50 from before", n)
	}
	f.restartBroker(t)
	f.waitForMails(t, 150, time.Minute)
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := f.notificationStatus(t); st["sent"] != 150 {
			return fmt.Errorf("notifications %v, want 150 sent", st)
		}
		return nil
	})
	f.assertEachOnce(t, append(before, during...), bookingevent.Confirmed)
}

// deadLetters reads booking.events.dlq from the start.
func (f *flow) deadLetters(t *testing.T, want int) []*kgo.Record {
	t.Helper()
	client, err := kafka.NewClient(f.brokers, kgo.ConsumeTopics(kafka.BookingDeadLetters), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	for len(out) < want && ctx.Err() == nil {
		out = append(out, client.PollFetches(ctx).Records()...)
	}
	if len(out) != want {
		t.Fatalf("%d dead letters, want %d", len(out), want)
	}
	return out
}

// A mail the server keeps deferring (451) is retried, then dead-lettered
// with the reason; one it refuses for good (550) is dead-lettered at once; a
// malformed event goes to the dead-letter topic at once, and the valid
// event behind it in the same partition is still mailed. Replaying the dead
// letters once the server recovers sends each mail once.
func TestFailingMailIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{})
	f.sink.refuse = func(to string) error {
		switch to {
		case "busy@example.com":
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
		case "gone@example.com":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	f.startRelay(t)
	f.start(t, f.smtpMailer(t, "", ""), testConfig(), graceful)

	busy := f.confirm(t, "busy@example.com")
	gone := f.confirm(t, "gone@example.com")
	// The poison record and a valid event share a key, so a partition.
	producer, err := kafka.NewClient(f.brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	after := sampleEvent(newOrderID(t), "ana@example.com")
	if err := producer.ProduceSync(f.ctx, &kgo.Record{Topic: kafka.BookingEvents, Key: []byte(after.OrderID), Value: []byte(`{"type":"booking.confirmed","order_id":`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f.insertOutbox(t, after)

	f.waitForMails(t, 1, 30*time.Second)
	byReason := map[string]*kgo.Record{}
	for _, r := range f.deadLetters(t, 3) {
		byReason[header(r, HeaderDLQReason)] = r
	}
	cases := []struct {
		reason, key, attempts, errorHas string
	}{
		{reasonExhausted, busy.OrderID, "3", "451"},
		{reasonRefused, gone.OrderID, "1", "550"},
		{reasonMalformed, after.OrderID, "0", "decoding booking event"},
	}
	for _, c := range cases {
		r := byReason[c.reason]
		if r == nil {
			t.Errorf("no dead letter with reason %s; got %v", c.reason, byReason)
			continue
		}
		if string(r.Key) != c.key || header(r, HeaderDLQAttempts) != c.attempts || !strings.Contains(header(r, HeaderDLQError), c.errorHas) {
			t.Errorf("%s dead letter: key %s attempts %s error %q; want key %s attempts %s error with %q",
				c.reason, r.Key, header(r, HeaderDLQAttempts), header(r, HeaderDLQError), c.key, c.attempts, c.errorHas)
		}
		if !strings.HasPrefix(header(r, HeaderDLQSource), kafka.BookingEvents+"/") {
			t.Errorf("%s dead letter source %q, want the booking.events partition and offset", c.reason, header(r, HeaderDLQSource))
		}
	}
	if n := f.sink.rcptAttempts("busy@example.com"); n != 3 {
		t.Errorf("busy@ was tried %d times, want 3 (MaxAttempts)", n)
	}
	if n := f.sink.rcptAttempts("gone@example.com"); n != 1 {
		t.Errorf("gone@ was tried %d times, want once: a 550 is final", n)
	}
	if got := f.sink.received(); len(got) != 1 || got[0].To != "ana@example.com" {
		t.Errorf("received %d mails, want only the one behind the poison record", len(got))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if st := f.notificationStatus(t); st["dead"] != 2 || st["sent"] != 1 {
			return fmt.Errorf("notifications %v, want 2 dead and 1 sent", st)
		}
		return nil
	})

	// The mail server recovers and ops replay the dead letters: the two
	// mails go out once each, the poison record goes back to the
	// dead-letter topic, and the replay is recorded, so the next one finds
	// only that record again and sends nothing twice.
	f.sink.mu.Lock()
	f.sink.refuse = nil
	f.sink.mu.Unlock()
	listed, err := Replay(f.ctx, f.pool, f.brokers, true)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, dl := range listed {
		reasons[dl.Reason] = dl.OrderID
	}
	if len(listed) != 3 || reasons[reasonExhausted] != busy.OrderID || reasons[reasonRefused] != gone.OrderID || reasons[reasonMalformed] != "" {
		t.Fatalf("dry run listed %+v, want the three dead letters", listed)
	}
	if again, err := Replay(f.ctx, f.pool, f.brokers, true); err != nil || len(again) != 3 {
		t.Fatalf("a second dry run listed %d (%v), want the same 3: a dry run marks nothing", len(again), err)
	}
	if replayed, err := Replay(f.ctx, f.pool, f.brokers, false); err != nil || len(replayed) != 3 {
		t.Fatalf("replay put back %d (%v), want 3", len(replayed), err)
	}
	f.waitForMails(t, 3, 30*time.Second)
	bounced := f.deadLetters(t, 4)[3]
	if header(bounced, HeaderDLQReason) != reasonMalformed {
		t.Fatalf("the fourth dead letter is %q, want the poison record back", header(bounced, HeaderDLQReason))
	}
	if replayed, err := Replay(f.ctx, f.pool, f.brokers, false); err != nil || len(replayed) != 1 || replayed[0].Reason != reasonMalformed {
		t.Fatalf("the second replay put back %+v (%v), want only the poison record", replayed, err)
	}
	f.deadLetters(t, 5)
	for id, n := range f.sink.byMessageID(t) {
		if n != 1 {
			t.Errorf("message %s received %d times after the replays, want once", id, n)
		}
	}
	if st := f.notificationStatus(t); st["sent"] != 3 || st["dead"] != 0 {
		t.Errorf("notifications %v after the replay, want 3 sent", st)
	}
}

// Two notifiers in one group split the partitions between them, and each
// order is still mailed once.
func TestTwoNotifiersShareThePartitions(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{tls: true, users: map[string]string{"a": "pa", "b": "pb"}})
	f.startRelay(t)
	f.start(t, f.smtpMailer(t, "a", "pa"), testConfig(), graceful)
	f.start(t, f.smtpMailer(t, "b", "pb"), testConfig(), graceful)

	const total = 600
	orders := f.confirmMany(t, total)
	f.waitForMails(t, total, 2*time.Minute)
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := f.notificationStatus(t); st["sent"] != total {
			return fmt.Errorf("notifications %v, want %d sent", st, total)
		}
		return nil
	})
	f.assertEachOnce(t, orders, bookingevent.Confirmed)
	byUser := map[string]int{}
	for _, m := range f.sink.received() {
		byUser[m.User]++
	}
	if byUser["a"] == 0 || byUser["b"] == 0 {
		t.Errorf("mails by notifier = %v, want both to have sent some", byUser)
	}
	t.Logf("mails by notifier: %v", byUser)
}

// A graceful stop finishes the mail in hand, commits it and leaves the
// group: the next notifier does not see that event again and gets the
// partitions without waiting for a session timeout.
func TestGracefulStopFinishesTheMailInHand(t *testing.T) {
	t.Parallel()
	f := newFlow(t, sinkOptions{})
	f.sink.delay = 500 * time.Millisecond
	f.startRelay(t)
	first := f.start(t, f.smtpMailer(t, "", ""), testConfig(), graceful)

	ev := f.confirm(t, "ana@example.com")
	testenv.Eventually(t, 30*time.Second, func() error {
		if f.sink.rcptAttempts("ana@example.com") == 0 {
			return fmt.Errorf("delivery not started")
		}
		return nil
	})
	first.stop() // while the server holds the DATA
	if n := f.sink.count(); n != 1 {
		t.Fatalf("%d mails after the graceful stop, want the one in hand delivered", n)
	}

	if lag := f.uncommitted(t, testConfig().ConsumerGroup); lag != 0 {
		t.Errorf("%d events uncommitted after the graceful stop, want the mailed one committed", lag)
	}

	f.sink.delay = 0
	f.start(t, f.smtpMailer(t, "", ""), testConfig(), graceful)
	next := f.confirm(t, "bea@example.com")
	start := time.Now()
	f.waitForMails(t, 2, 30*time.Second)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the next notifier took %v to take over: the first did not leave the group", d)
	}
	f.assertEachOnce(t, []string{ev.OrderID, next.OrderID}, bookingevent.Confirmed)
}

// uncommitted is how many events of booking.events the group has not
// committed: zero once the notifiers caught up.
func (f *flow) uncommitted(t *testing.T, group string) int64 {
	t.Helper()
	client, err := kafka.NewClient(f.brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(f.ctx, kafka.BookingEvents)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(f.ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok {
			lag += o.Offset
			return
		}
		lag += o.Offset - c.At
	})
	return lag
}
