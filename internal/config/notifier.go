package config

// NotifierConfig holds the settings of the notifier: where mail goes.
type NotifierConfig struct {
	SMTPURL  string
	MailFrom string
}

func defaultNotifier() NotifierConfig {
	return NotifierConfig{MailFrom: "TicketVelo <tickets@ticketvelo.local>"}
}

func (n *NotifierConfig) bind(b *binder) {
	b.str(&n.SMTPURL, "smtp-url", "SMTP_URL", "SMTP server (smtp://user:pass@host:587 with STARTTLS, smtps:// for TLS); empty writes .eml files under <data-dir>/mail")
	b.str(&n.MailFrom, "mail-from", "TICKETVELO_MAIL_FROM", "sender of confirmation mail")
}

func (n *NotifierConfig) validate() error {
	if n.SMTPURL == "" {
		return nil
	}
	return checkURL("SMTP_URL", n.SMTPURL, "smtp", "smtps")
}
