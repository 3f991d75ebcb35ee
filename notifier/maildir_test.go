package notifier

import (
	"os"
	"path/filepath"
	"testing"
)

// Without SMTP each mail is a file named after its Message-ID; delivering it
// again replaces the file, so a redelivery leaves one mail.
func TestFileMailerWritesOneFilePerMessage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail")
	m, err := NewFileMailer(dir)
	if err != nil {
		t.Fatal(err)
	}
	msg := &Message{ID: "confirmed." + sampleOrder + "@ticketvelo.test", Data: []byte("Subject: first\r\n\r\nhello\r\n")}
	for _, body := range []string{"first", "second"} {
		msg.Data = []byte("Subject: " + body + "\r\n\r\nhello\r\n")
		if err := m.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != "confirmed."+sampleOrder+"@ticketvelo.test.eml" {
		t.Fatalf("files %v, want one named after the Message-ID", files)
	}
	got, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	if err != nil || string(got) != string(msg.Data) {
		t.Errorf("file holds %q (%v), want the last delivery", got, err)
	}
	if evil := m.Path(&Message{ID: "../../etc/passwd"}); filepath.Dir(evil) != dir {
		t.Errorf("Path(../../etc/passwd) = %s, outside %s", evil, dir)
	}
}
