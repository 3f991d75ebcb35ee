package main

import (
	"context"

	"github.com/ticketvelo/ticketvelo/booker"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/notifier"
)

// brokerAddrs are the Kafka bootstrap addresses the process uses: the
// configured ones, or the embedded broker's.
func (d *deps) brokerAddrs() []string {
	if d.broker != nil {
		return d.broker.Addrs()
	}
	return d.cfg.KafkaBrokers
}

// relayLoop is the outbox relay that runs inside every booker process; any
// number of bookers relay the same outbox safely.
func relayLoop(d *deps, bk booker.Config) func(context.Context) error {
	opts := outbox.Options{Retention: bk.OutboxRetention}
	return outbox.NewRelay(d.pool, d.brokerAddrs(), opts, d.log.With().Str("module", "booker").Logger()).Run
}

// notifierLoop builds the notifier with the settings cfg: mail over
// SMTP_URL, or .eml files under <data-dir>/mail without it.
func notifierLoop(d *deps, cfg notifier.Config) (func(context.Context) error, error) {
	ring, err := tokens.LoadOrCreate(d.cfg.KeyPath())
	if err != nil {
		return nil, err
	}
	mailer, err := notifier.NewMailer(cfg.SMTPURL, d.cfg.DataDir, cfg.SMTPTimeout)
	if err != nil {
		return nil, err
	}
	d.closes = append(d.closes, func() { mailer.Close() })
	log := d.log.With().Str("module", "notifier").Logger()
	n, err := notifier.New(cfg, notifier.Deps{Pool: d.pool, Brokers: d.brokerAddrs(), Ring: ring, Mailer: mailer, Log: log})
	if err != nil {
		return nil, err
	}
	if cfg.SMTPURL == "" {
		log.Info().Str("dir", d.cfg.DataDir+"/mail").Msg("no SMTP_URL: mail is written as .eml files")
	}
	return n.Run, nil
}
