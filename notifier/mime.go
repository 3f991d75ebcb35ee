package notifier

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// envelope is the header of a mail.
type envelope struct {
	id       string
	from, to *mail.Address
	subject  string
	date     time.Time
}

// compose builds the MIME message: the text and HTML alternatives, and, when
// tickets carry QR codes, those images inline in a multipart/related so the
// HTML shows them through cid: links without any remote image.
func compose(e envelope, text, html []byte, tickets []ticketView) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(text) + len(html) + len(tickets)*8192)
	header := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, foldEncodedWords(v)) }
	header("From", e.from.String())
	header("To", e.to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", e.subject))
	header("Date", e.date.Format(time.RFC1123Z))
	header("Message-ID", "<"+e.id+">")
	header("MIME-Version", "1.0")
	// RFC 3834: an automatic mail, so auto-responders stay quiet.
	header("Auto-Submitted", "auto-generated")

	var images []ticketView
	for _, t := range tickets {
		if t.qrPNG != nil {
			images = append(images, t)
		}
	}
	if len(images) == 0 {
		alt := multipart.NewWriter(&buf)
		header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": alt.Boundary()}))
		buf.WriteString("\r\n")
		if err := writeAlternatives(alt, text, html); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}

	related := multipart.NewWriter(&buf)
	header("Content-Type", mime.FormatMediaType("multipart/related", map[string]string{"boundary": related.Boundary(), "type": "multipart/alternative"}))
	buf.WriteString("\r\n")
	var altBody bytes.Buffer
	alt := multipart.NewWriter(&altBody)
	if err := writeAlternatives(alt, text, html); err != nil {
		return nil, err
	}
	part, err := related.CreatePart(textproto.MIMEHeader{"Content-Type": {mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": alt.Boundary()})}})
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(altBody.Bytes()); err != nil {
		return nil, err
	}
	for i, t := range images {
		name := fmt.Sprintf("ticket-%d.png", i+1)
		part, err := related.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType("image/png", map[string]string{"name": name})},
			"Content-Transfer-Encoding": {"base64"},
			"Content-ID":                {"<" + t.ImageID + ">"},
			"Content-Disposition":       {mime.FormatMediaType("inline", map[string]string{"filename": name})},
		})
		if err != nil {
			return nil, err
		}
		if err := writeBase64Lines(part, t.qrPNG); err != nil {
			return nil, err
		}
	}
	if err := related.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// foldEncodedWords puts each RFC 2047 encoded-word of a header value after
// the first on a continuation line. The mime package writes a long name as
// words of at most 75 characters on one line; a 200-character name of
// emoji makes a line of about 3,000, and RFC 5322 allows 998 (servers
// refuse or cut longer lines). Only CRLF then a space is added, so folding
// never starts a header, and readers drop it when they unfold.
func foldEncodedWords(v string) string {
	return strings.ReplaceAll(v, "?= =?", "?=\r\n =?")
}

func writeAlternatives(w *multipart.Writer, text, html []byte) error {
	for _, p := range []struct {
		contentType string
		body        []byte
	}{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html}} {
		part, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {p.contentType}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(part)
		if _, err := qp.Write(p.body); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
	}
	return w.Close()
}

// writeBase64Lines writes b in base64 lines of 76 characters (RFC 2045).
func writeBase64Lines(w io.Writer, b []byte) error {
	enc := base64.StdEncoding.EncodeToString(b)
	line := make([]byte, 0, 78)
	for len(enc) > 0 {
		n := min(76, len(enc))
		line = append(append(line[:0], enc[:n]...), '\r', '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}
