package notifier

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

func loadConfig(env map[string]string, args ...string) (Config, error) {
	return config.LoadFrom(DefaultConfig(), env, args...)
}

func TestNotifierSettings(t *testing.T) {
	t.Parallel()
	n, err := loadConfig(map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com:465", "TICKETVELO_MAIL_ATTEMPTS": "7", "TICKETVELO_NOTIFIER_SESSION_TIMEOUT": "12s"},
		"-mail-claim-lease", "5m", "-smtp-timeout", "20s", "-notifier-heartbeat", "2s", "-notifier-concurrency", "8", "-notifier-max-poll-records", "100")
	if err != nil {
		t.Fatal(err)
	}
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
			_, err := loadConfig(c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one naming %s", err, c.want)
			}
		})
	}
}

// TestSMTPPasswordIsMasked: a bad SMTP_URL's error and -h show the URL
// without its password.
func TestSMTPPasswordIsMasked(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(map[string]string{"SMTP_URL": "smtp://u:secret@mail:bad"})
	if err == nil || !strings.HasPrefix(err.Error(), "SMTP_URL:") || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v, want an error naming SMTP_URL without the password", err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	c := DefaultConfig()
	c.RegisterFlags(config.NewBinder(fs, func(k string) string { return map[string]string{"SMTP_URL": "smtp://u:secret@m:587"}[k] }))
	fs.PrintDefaults()
	if strings.Contains(help.String(), "secret") || !strings.Contains(help.String(), `"smtp://u:xxxxx@m:587"`) {
		t.Errorf("help shows the password of SMTP_URL:\n%s", help.String())
	}
}
