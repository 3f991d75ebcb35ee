package config

import (
	"strings"
	"testing"
	"time"
)

func TestNotifierSettings(t *testing.T) {
	t.Parallel()
	c, err := load(t, Notifier, map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com:465", "TICKETVELO_MAIL_ATTEMPTS": "7", "TICKETVELO_NOTIFIER_SESSION_TIMEOUT": "12s"},
		"-mail-claim-lease", "5m", "-smtp-timeout", "20s", "-notifier-heartbeat", "2s", "-notifier-concurrency", "8", "-notifier-max-poll-records", "100")
	if err != nil {
		t.Fatal(err)
	}
	n := c.Notifier
	if n.SMTPURL != "smtps://u:p@mail.example.com:465" || n.MaxAttempts != 7 || n.ClaimLease != 5*time.Minute || n.SMTPTimeout != 20*time.Second ||
		n.SessionTimeout != 12*time.Second || n.HeartbeatInterval != 2*time.Second || n.Concurrency != 8 || n.MaxPollRecords != 100 {
		t.Errorf("notifier settings = %+v", n)
	}

	cases := []struct {
		name string
		env  map[string]string
		want string // the variable the error must name
	}{
		{"smtp scheme", map[string]string{"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"},
		{"no attempts", map[string]string{"TICKETVELO_MAIL_ATTEMPTS": "0"}, "TICKETVELO_MAIL_ATTEMPTS"},
		{"backoff above its max", map[string]string{"TICKETVELO_MAIL_RETRY_BACKOFF": "1m", "TICKETVELO_MAIL_RETRY_BACKOFF_MAX": "10s"}, "TICKETVELO_MAIL_RETRY_BACKOFF"},
		{"lease too short to renew", map[string]string{"TICKETVELO_MAIL_CLAIM_LEASE": "500ms"}, "TICKETVELO_MAIL_CLAIM_LEASE"},
		{"no concurrency", map[string]string{"TICKETVELO_NOTIFIER_CONCURRENCY": "0"}, "TICKETVELO_NOTIFIER_CONCURRENCY"},
		{"no records per poll", map[string]string{"TICKETVELO_NOTIFIER_MAX_POLL_RECORDS": "0"}, "TICKETVELO_NOTIFIER_MAX_POLL_RECORDS"},
		{"attempts not a number", map[string]string{"TICKETVELO_MAIL_ATTEMPTS": "many"}, "TICKETVELO_MAIL_ATTEMPTS"},
		{"session timeout", map[string]string{"TICKETVELO_NOTIFIER_SESSION_TIMEOUT": "100ms"}, "TICKETVELO_NOTIFIER_SESSION_TIMEOUT"},
		{"heartbeat over a third of the session", map[string]string{"TICKETVELO_NOTIFIER_SESSION_TIMEOUT": "9s", "TICKETVELO_NOTIFIER_HEARTBEAT": "4s"}, "TICKETVELO_NOTIFIER_HEARTBEAT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, Notifier, c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one naming %s", err, c.want)
			}
		})
	}
}
