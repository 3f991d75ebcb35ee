package notifier

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// Mailer delivers one rendered message. An error wrapping errPermanent means
// the server refused for good and retrying cannot help.
type Mailer interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

// errPermanent marks a delivery the server refused for good (an SMTP 5xx).
var errPermanent = errors.New("permanent failure")

// SMTPMailer delivers over SMTP, reusing a few connections. smtps:// speaks
// TLS from the first byte; smtp:// upgrades with STARTTLS, which it requires
// unless the server is on loopback and the URL has no credentials (a local
// mail sink). Credentials in the URL are sent with AUTH PLAIN, so never in
// clear.
type SMTPMailer struct {
	addr        string
	host        string
	implicitTLS bool
	tls         *tls.Config
	auth        func() sasl.Client
	timeout     time.Duration
	localName   string
	idle        chan *smtp.Client
}

// NewSMTPMailer parses rawURL (smtp://user:pass@host:587 or smtps://...).
// tlsConfig may be nil (system roots); timeout bounds each delivery.
func NewSMTPMailer(rawURL string, tlsConfig *tls.Config, timeout time.Duration) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL %q: %w", redact.URL(rawURL), redact.ParseError(err, rawURL))
	}
	m := &SMTPMailer{timeout: timeout, localName: "localhost", idle: make(chan *smtp.Client, 8)}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		m.implicitTLS = true
	default:
		return nil, fmt.Errorf("SMTP_URL: expected smtp:// or smtps://, got %q", u.Scheme)
	}
	m.host = u.Hostname()
	port := u.Port()
	if port == "" {
		port = "587"
		if m.implicitTLS {
			port = "465"
		}
	}
	m.addr = net.JoinHostPort(m.host, port)
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	m.tls = tlsConfig.Clone()
	if m.tls.ServerName == "" {
		m.tls.ServerName = m.host
	}
	if u.User != nil {
		user := u.User.Username()
		pass, _ := u.User.Password()
		m.auth = func() sasl.Client { return sasl.NewPlainClient("", user, pass) }
	}
	return m, nil
}

// Send delivers m. The SMTP dialogue is not cut short when ctx ends: a
// message whose DATA was half sent may or may not have been accepted, which
// is the one case a mail could arrive twice, so a delivery once started runs
// to its end (bounded by the timeout). ctx only stops a delivery that has not
// started.
func (s *SMTPMailer) Send(ctx context.Context, m *Message) error {
	c, reused, err := s.client(ctx)
	if err != nil {
		return err
	}
	err = s.deliver(c, m)
	if errors.Is(err, errStaleConn) && reused {
		// The pooled connection died while idle (the server timed it out)
		// before MAIL was accepted, so nothing was sent: try a fresh one.
		c.Close()
		if c, err = s.dial(ctx); err != nil {
			return err
		}
		err = s.deliver(c, m)
	}
	if err != nil {
		c.Close()
		return classify(err)
	}
	select {
	case s.idle <- c:
	default:
		c.Quit()
	}
	return nil
}

// errStaleConn is a connection that failed before the server accepted
// MAIL: no part of the message was sent on it.
var errStaleConn = errors.New("connection failed before MAIL")

// deliver runs one mail transaction on c.
func (s *SMTPMailer) deliver(c *smtp.Client, m *Message) error {
	if err := c.Mail(m.From, nil); err != nil {
		// A dead connection, or a 421: servers that time an idle
		// connection out say so before closing it, and the 421 is what
		// the next command reads.
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code == 421 {
			return fmt.Errorf("MAIL FROM: %w: %w", errStaleConn, err)
		}
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To, nil); err != nil {
		return fmt.Errorf("RCPT TO %s: %w", m.To, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := bytes.NewReader(m.Data).WriteTo(w); err != nil {
		w.Close()
		return fmt.Errorf("writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("ending DATA: %w", err)
	}
	return nil
}

// client takes an idle connection or dials a new one.
func (s *SMTPMailer) client(ctx context.Context) (*smtp.Client, bool, error) {
	select {
	case c := <-s.idle:
		return c, true, nil
	default:
	}
	c, err := s.dial(ctx)
	return c, false, err
}

func (s *SMTPMailer) dial(ctx context.Context) (*smtp.Client, error) {
	d := net.Dialer{Timeout: s.timeout}
	var conn net.Conn
	var err error
	if s.implicitTLS {
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		conn, err = td.DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to SMTP server %s: %w", s.addr, err)
	}
	// The deadline covers the greeting and STARTTLS, which run before the
	// client's own per-command timeouts are set.
	conn.SetDeadline(time.Now().Add(s.timeout))
	var c *smtp.Client
	if s.implicitTLS || (s.auth == nil && isLoopback(s.host)) {
		c = smtp.NewClient(conn)
	} else if c, err = smtp.NewClientStartTLS(conn, s.tls); err != nil {
		conn.Close()
		return nil, classify(fmt.Errorf("STARTTLS with SMTP server %s: %w", s.addr, err))
	}
	c.CommandTimeout, c.SubmissionTimeout = s.timeout, s.timeout
	if err := c.Hello(s.localName); err != nil {
		c.Close()
		return nil, classify(fmt.Errorf("EHLO to SMTP server %s: %w", s.addr, err))
	}
	if s.auth != nil {
		if err := c.Auth(s.auth()); err != nil {
			c.Close()
			return nil, classify(fmt.Errorf("AUTH with SMTP server %s: %w", s.addr, err))
		}
	}
	return c, nil
}

// Close ends the idle connections.
func (s *SMTPMailer) Close() error {
	for {
		select {
		case c := <-s.idle:
			c.Quit()
		default:
			return nil
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// classify marks 5xx replies permanent; 4xx replies and network errors stay
// transient and are retried.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	return err
}
