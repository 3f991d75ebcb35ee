package notifier

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// parsedMail is a received message taken apart the way a mail client does.
type parsedMail struct {
	Header mail.Header
	Text   string
	HTML   string
	// Images are the inline parts by Content-ID (without angle brackets).
	Images map[string][]byte
}

func parseMail(tb testing.TB, data []byte) parsedMail {
	tb.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("reading message: %v", err)
	}
	p := parsedMail{Header: m.Header, Images: map[string][]byte{}}
	walkPart(tb, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body, &p)
	return p
}

func walkPart(tb testing.TB, contentType, encoding, contentID string, body io.Reader, p *parsedMail) {
	tb.Helper()
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		tb.Fatalf("content type %q: %v", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				tb.Fatalf("reading %s: %v", mediaType, err)
			}
			walkPart(tb, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-ID"), part, p)
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		tb.Fatalf("reading a %s part: %v", mediaType, err)
	}
	switch mediaType {
	case "text/plain":
		p.Text = string(b)
	case "text/html":
		p.HTML = string(b)
	case "image/png":
		p.Images[strings.Trim(contentID, "<>")] = b
	default:
		tb.Fatalf("unexpected part %s", mediaType)
	}
}

// decodeQR reads the text of a QR code PNG with an independent decoder,
// ZXing's Go port. A mailed code is a clean digital image, not a photo, so
// the pure-barcode path applies: ZXing's finder detector, meant for photos,
// misses about one clean code in seventy (its own encoder's too), while
// zbarimg reads those.
func decodeQR(tb testing.TB, pngData []byte) string {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		tb.Fatalf("decoding PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		tb.Fatalf("decoding QR code: %v", err)
	}
	return res.GetText()
}

// testRing returns a signing ring and the verify-only ring a door scanner
// holds.
func testRing(tb testing.TB) (signer, scanner *tokens.Ring) {
	tb.Helper()
	k, err := tokens.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	signer, err = tokens.NewRing(k)
	if err != nil {
		tb.Fatal(err)
	}
	scanner, err = tokens.NewRing(tokens.Key{ID: k.ID, Public: k.Public})
	if err != nil {
		tb.Fatal(err)
	}
	return signer, scanner
}

// received is one message an smtpSink accepted.
type received struct {
	User     string // the AUTH user, "" without auth
	TLS      bool
	From, To string
	Data     []byte
	At       time.Time // when the server accepted it
}

// smtpSink is an SMTP server started inside the test: go-smtp speaking the
// real protocol on a loopback port.
type smtpSink struct {
	Addr      string
	ClientTLS *tls.Config // trusts the sink's certificate

	mu       sync.Mutex
	mails    []received
	attempts map[string]int // RCPT TO per recipient
	// refuse, when set, answers RCPT TO for a recipient with an error.
	refuse func(to string) error
	// delay, when set, holds each DATA before accepting it.
	delay time.Duration
}

type sinkOptions struct {
	tls   bool
	users map[string]string // AUTH PLAIN users; none means no auth
	// idleTimeout, when set, closes connections idle that long, as real
	// servers do.
	idleTimeout time.Duration
}

func startSMTP(tb testing.TB, opts sinkOptions) *smtpSink {
	tb.Helper()
	sink := &smtpSink{attempts: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink, conn: c, users: opts.users}, nil
	}))
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if opts.idleTimeout > 0 {
		srv.ReadTimeout = opts.idleTimeout
	}
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = nopLogger{}
	if opts.tls {
		serverTLS, clientTLS := selfSignedTLS(tb)
		srv.TLSConfig, sink.ClientTLS = serverTLS, clientTLS
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	sink.Addr = ln.Addr().String()
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return sink
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}
func (nopLogger) Println(...interface{})        {}

// URL is the sink's SMTP_URL, with a user when given.
func (s *smtpSink) URL(user, pass string) string {
	if user == "" {
		return "smtp://" + s.Addr
	}
	return fmt.Sprintf("smtp://%s:%s@%s", user, pass, s.Addr)
}

func (s *smtpSink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mails...)
}

func (s *smtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mails)
}

func (s *smtpSink) rcptAttempts(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[to]
}

// byMessageID counts the accepted messages of each Message-ID.
func (s *smtpSink) byMessageID(tb testing.TB) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, m := range s.received() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			tb.Fatalf("reading a received message: %v", err)
		}
		out[msg.Header.Get("Message-ID")]++
	}
	return out
}

type sinkSession struct {
	sink          *smtpSink
	conn          *smtp.Conn
	users         map[string]string
	user          string
	authenticated bool
	from, to      string
}

var _ smtp.AuthSession = (*sinkSession)(nil)

func (s *sinkSession) AuthMechanisms() []string {
	if len(s.users) == 0 {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if want, ok := s.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.user, s.authenticated = user, true
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if len(s.users) > 0 && !s.authenticated {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.sink.mu.Lock()
	s.sink.attempts[to]++
	refuse := s.sink.refuse
	s.sink.mu.Unlock()
	if refuse != nil {
		if err := refuse(to); err != nil {
			return err
		}
	}
	s.to = to
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	delay := s.sink.delay
	s.sink.mu.Unlock()
	time.Sleep(delay)
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, received{User: s.user, TLS: isTLS, From: s.from, To: s.to, Data: b, At: time.Now()})
	s.sink.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.from, s.to = "", "" }
func (s *sinkSession) Logout() error { return nil }

// selfSignedTLS makes a certificate for 127.0.0.1 and a client config that
// trusts it.
func selfSignedTLS(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sink.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}
