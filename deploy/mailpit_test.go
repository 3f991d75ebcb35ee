package deploy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestMailpitCertificate checks the certificate Mailpit offers STARTTLS
// with: for the name the notifier dials, long valid, matching its key, and
// good for a real STARTTLS handshake that trusts nothing else, as the
// notifier does with SSL_CERT_FILE. A handshake for another name must fail,
// or the test would prove nothing.
func TestMailpitCertificate(t *testing.T) {
	t.Parallel()
	pair, err := tls.LoadX509KeyPair(repoPath("deploy", "mailpit", "tls.crt"), repoPath("deploy", "mailpit", "tls.key"))
	if err != nil {
		t.Fatalf("deploy/mailpit: %v", err)
	}
	cert := pair.Leaf
	if err := cert.VerifyHostname("mailpit"); err != nil {
		t.Errorf("the certificate is not for mailpit: %v", err)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.AddDate(10, 0, 0).After(cert.NotAfter) {
		t.Errorf("the certificate is valid %s to %s; want now and for ten years more", cert.NotBefore, cert.NotAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return acceptAll{}, nil }))
	srv.Domain = "mailpit"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{pair}}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("SMTP server: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })

	send := func(name string) error {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			return err
		}
		c, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: name, RootCAs: roots})
		if err != nil {
			conn.Close()
			return err
		}
		defer c.Close()
		if err := c.Hello("notifier"); err != nil {
			return err
		}
		return c.SendMail("tickets@ticketvelo.local", []string{"fan@example.com"}, strings.NewReader("Subject: test\r\n\r\nhello\r\n"))
	}
	if err := send("mailpit"); err != nil {
		t.Errorf("STARTTLS to mailpit trusting only its certificate: %v", err)
	}
	if err := send("gateway-1"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("STARTTLS with the wrong name: %v, want a certificate error", err)
	}
}
