package notifier

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func testMessage(to string) *Message {
	return &Message{ID: "m@test", From: "tickets@ticketvelo.test", To: to, Data: []byte("Subject: hi\r\n\r\nhello\r\n")}
}

// A pooled connection the server closed while idle costs nothing: the
// mailer notices before MAIL is accepted and redials, and the mail is
// delivered once.
func TestSMTPMailerRedialsAConnectionTheServerClosed(t *testing.T) {
	t.Parallel()
	sink := startSMTP(t, sinkOptions{idleTimeout: 200 * time.Millisecond})
	m, err := NewSMTPMailer(sink.URL("", ""), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Send(t.Context(), testMessage("ana@example.com")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // the server drops the idle connection
	if err := m.Send(t.Context(), testMessage("bea@example.com")); err != nil {
		t.Fatalf("second send on a connection the server closed: %v", err)
	}
	if got := sink.received(); len(got) != 2 || got[1].To != "bea@example.com" {
		t.Errorf("received %d mails, want both, once each", len(got))
	}
}

// Credentials never travel in clear: a server without STARTTLS gets no AUTH
// and no mail, and the error says why.
func TestSMTPMailerKeepsCredentialsOffAPlainConnection(t *testing.T) {
	t.Parallel()
	sink := startSMTP(t, sinkOptions{users: map[string]string{"u": "p"}})
	m, err := NewSMTPMailer(sink.URL("u", "p"), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Send(t.Context(), testMessage("ana@example.com"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("send without TLS = %v, want a STARTTLS error", err)
	}
	if sink.count() != 0 {
		t.Errorf("a mail was delivered over a plain connection")
	}
}

func TestClassifyMakesOnly5xxPermanent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err       error
		permanent bool
	}{
		{&smtp.SMTPError{Code: 550, Message: "no such user"}, true},
		{&smtp.SMTPError{Code: 554, Message: "rejected"}, true},
		{&smtp.SMTPError{Code: 451, Message: "try later"}, false},
		{&smtp.SMTPError{Code: 421, Message: "closing"}, false},
		{errors.New("connection reset by peer"), false},
	}
	for _, c := range cases {
		if got := errors.Is(classify(c.err), errPermanent); got != c.permanent {
			t.Errorf("classify(%v) permanent = %v, want %v", c.err, got, c.permanent)
		}
	}
}
