package notifier

import (
	"errors"
	"fmt"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// Config holds the settings of the notifier: where mail goes, how often a
// failing mail is retried, how long a claim on a mail lasts, and how the
// notifiers share the booking events.
type Config struct {
	SMTPURL  string
	MailFrom string
	// SMTPTimeout bounds one delivery: connecting, the SMTP dialogue and
	// the message.
	SMTPTimeout time.Duration
	// MaxAttempts is how many deliveries a mail gets before it goes to the
	// dead-letter topic.
	MaxAttempts int
	// RetryBackoff is the wait after the first failed delivery; it doubles
	// per attempt up to RetryBackoffMax.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// ClaimLease is how long a claimed but unsent mail belongs to the
	// notifier that claimed it without word from it: the owner renews the
	// claim every third of the lease while it works on the mail, so after
	// a lease of silence (the notifier died mid-mail) whichever notifier
	// meets the event again takes the claim over.
	ClaimLease time.Duration
	// ConsumerGroup is the Kafka consumer group the notifiers share.
	ConsumerGroup string
	// SessionTimeout is how long the group waits for a notifier that
	// stopped heartbeating (killed, cut off) before it gives that
	// notifier's partitions to the others; HeartbeatInterval is how often a
	// live notifier says it is there. The broker bounds the session timeout
	// (group.min.session.timeout.ms, 6 s in Kafka and the embedded broker).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	// Concurrency bounds the mails in progress at once; MaxPollRecords the
	// records handled between two offset commits.
	Concurrency, MaxPollRecords int
}

// DefaultConfig returns the settings a notifier runs with unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		MailFrom:        "TicketVelo <tickets@ticketvelo.local>",
		SMTPTimeout:     30 * time.Second,
		MaxAttempts:     5,
		RetryBackoff:    time.Second,
		RetryBackoffMax: 30 * time.Second,
		ClaimLease:      10 * time.Second,
		ConsumerGroup:   "ticketvelo-notifier",
		// franz-go's defaults (45 s, 3 s) left a crashed notifier's
		// orders unmailed for most of a minute.
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: time.Second,
		// Mostly waiting on Postgres commits and the SMTP server: many in
		// flight keep two cores busy.
		Concurrency:    32,
		MaxPollRecords: 512,
	}
}

// RegisterFlags binds every setting to a flag of b.
func (n *Config) RegisterFlags(b *config.Binder) {
	b.URL(&n.SMTPURL, "smtp-url", "SMTP_URL", "SMTP server (smtp://user:pass@host:587 with STARTTLS, smtps:// for TLS); empty writes .eml files under <data-dir>/mail")
	b.Str(&n.MailFrom, "mail-from", "TICKETVELO_MAIL_FROM", "sender of confirmation mail")
	b.Duration(&n.SMTPTimeout, "smtp-timeout", "TICKETVELO_SMTP_TIMEOUT", "how long one delivery to the SMTP server may take")
	b.Int(&n.MaxAttempts, "mail-attempts", "TICKETVELO_MAIL_ATTEMPTS", "deliveries a mail gets before it goes to booking.events.dlq")
	b.Duration(&n.RetryBackoff, "mail-retry-backoff", "TICKETVELO_MAIL_RETRY_BACKOFF", "wait after a failed delivery; doubles per attempt")
	b.Duration(&n.RetryBackoffMax, "mail-retry-backoff-max", "TICKETVELO_MAIL_RETRY_BACKOFF_MAX", "longest wait between deliveries")
	b.Duration(&n.ClaimLease, "mail-claim-lease", "TICKETVELO_MAIL_CLAIM_LEASE", "how long a claimed, unsent mail waits for its notifier before another takes it over")
	b.Str(&n.ConsumerGroup, "notifier-group", "TICKETVELO_NOTIFIER_GROUP", "Kafka consumer group of the notifiers")
	b.Duration(&n.SessionTimeout, "notifier-session-timeout", "TICKETVELO_NOTIFIER_SESSION_TIMEOUT", "how long the group waits for a notifier that stopped heartbeating before its partitions go to the others (the broker allows 6s at least by default)")
	b.Duration(&n.HeartbeatInterval, "notifier-heartbeat", "TICKETVELO_NOTIFIER_HEARTBEAT", "how often a notifier heartbeats to its group; at most a third of the session timeout")
	b.Int(&n.Concurrency, "notifier-concurrency", "TICKETVELO_NOTIFIER_CONCURRENCY", "mails one notifier works on at once")
	b.Int(&n.MaxPollRecords, "notifier-max-poll-records", "TICKETVELO_NOTIFIER_MAX_POLL_RECORDS", "booking events one notifier handles between two offset commits")
}

// Validate names the variable of the first setting that is wrong.
func (n *Config) Validate() error {
	if n.SMTPURL != "" {
		if err := config.CheckURL("SMTP_URL", n.SMTPURL, "smtp", "smtps"); err != nil {
			return err
		}
	}
	switch {
	case n.MailFrom == "":
		return errors.New("TICKETVELO_MAIL_FROM: expected a sender address, got an empty value")
	case n.SMTPTimeout <= 0:
		return fmt.Errorf("TICKETVELO_SMTP_TIMEOUT: expected a positive duration, got %s", n.SMTPTimeout)
	case n.MaxAttempts < 1:
		return fmt.Errorf("TICKETVELO_MAIL_ATTEMPTS: expected at least 1, got %d", n.MaxAttempts)
	case n.RetryBackoff <= 0 || n.RetryBackoffMax < n.RetryBackoff:
		return fmt.Errorf("TICKETVELO_MAIL_RETRY_BACKOFF / TICKETVELO_MAIL_RETRY_BACKOFF_MAX: expected 0 < backoff <= max, got %s and %s", n.RetryBackoff, n.RetryBackoffMax)
	case n.ClaimLease < time.Second:
		// The owner renews its claims every third of the lease; shorter
		// than a second and a busy machine's late renewal hands a mail in
		// delivery to a second notifier.
		return fmt.Errorf("TICKETVELO_MAIL_CLAIM_LEASE: expected at least 1s, got %s", n.ClaimLease)
	case n.Concurrency < 1 || n.Concurrency > 10_000:
		return fmt.Errorf("TICKETVELO_NOTIFIER_CONCURRENCY: expected 1 to 10000, got %d", n.Concurrency)
	case n.MaxPollRecords < 1:
		return fmt.Errorf("TICKETVELO_NOTIFIER_MAX_POLL_RECORDS: expected at least 1, got %d", n.MaxPollRecords)
	case n.ConsumerGroup == "":
		return errors.New("TICKETVELO_NOTIFIER_GROUP: expected a group name, got an empty value")
	case n.SessionTimeout < time.Second || n.SessionTimeout > 30*time.Minute:
		return fmt.Errorf("TICKETVELO_NOTIFIER_SESSION_TIMEOUT: expected 1s to 30m (and within the broker's group.min/max.session.timeout.ms), got %s", n.SessionTimeout)
	case n.HeartbeatInterval <= 0 || 3*n.HeartbeatInterval > n.SessionTimeout:
		// Fewer than three heartbeats a session and one late heartbeat
		// on a busy machine costs the notifier its partitions.
		return fmt.Errorf("TICKETVELO_NOTIFIER_HEARTBEAT: expected a positive duration up to a third of TICKETVELO_NOTIFIER_SESSION_TIMEOUT (%s), got %s", n.SessionTimeout, n.HeartbeatInterval)
	}
	return nil
}
