package notifier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileMailer writes each message as an .eml file, for installs without an
// SMTP server: a newcomer opens the file in any mail program. The file is
// named after the Message-ID and replaced atomically, so delivering a mail
// twice leaves one file.
type FileMailer struct {
	dir string
}

// NewFileMailer writes into dir, creating it.
func NewFileMailer(dir string) (*FileMailer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating mail directory: %w", err)
	}
	return &FileMailer{dir: dir}, nil
}

// Path is the file a message is written to.
func (f *FileMailer) Path(m *Message) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '@':
			return r
		}
		return '_'
	}, m.ID)
	return filepath.Join(f.dir, name+".eml")
}

// Send writes m to its file.
func (f *FileMailer) Send(_ context.Context, m *Message) error {
	tmp, err := os.CreateTemp(f.dir, ".mail-*")
	if err != nil {
		return fmt.Errorf("writing mail file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(m.Data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing mail file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing mail file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing mail file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path(m)); err != nil {
		return fmt.Errorf("writing mail file: %w", err)
	}
	return nil
}

// Close does nothing: files need no connection.
func (f *FileMailer) Close() error { return nil }

// NewMailer is the mailer the settings ask for: SMTP when smtpURL is set,
// otherwise .eml files under dataDir/mail.
func NewMailer(smtpURL, dataDir string, timeout time.Duration) (Mailer, error) {
	if smtpURL != "" {
		return NewSMTPMailer(smtpURL, nil, timeout)
	}
	return NewFileMailer(filepath.Join(dataDir, "mail"))
}
