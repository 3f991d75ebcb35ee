package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestDropMailsEveryOrderOnce runs a drop through the real program ('all':
// gateway, booker with its outbox relay, the embedded broker and the
// notifier without SMTP) and checks invariant 5 end to end: each confirmed
// order has exactly one confirmation mail, as an .eml file whose QR codes
// verify with the public key.
func TestDropMailsEveryOrderOnce(t *testing.T) {
	t.Parallel()
	w, _ := startAndDrop(t, "--fans", "60", "--seats", "40", "--prequeue", "1s", "--arrivals", "2s",
		"--rate", "200", "--max-active", "60", "--max-tickets", "2", "--max-poll", "300ms", "--timeout", "60s")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, w.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT o.id::text, count(t.id) FROM orders o JOIN tickets t ON t.order_id = o.id WHERE o.status = 'confirmed' GROUP BY o.id`)
	if err != nil {
		t.Fatal(err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		id      string
		tickets int
	}, error) {
		var o struct {
			id      string
			tickets int
		}
		return o, r.Scan(&o.id, &o.tickets)
	})
	if err != nil || len(orders) == 0 {
		t.Fatalf("confirmed orders: %d, %v; want some", len(orders), err)
	}

	dir := filepath.Join(w.env["TICKETVELO_DATA_DIR"], "mail")
	testenv.Eventually(t, 60*time.Second, func() error {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		if len(files) < len(orders) {
			return fmt.Errorf("%d mail files for %d confirmed orders", len(files), len(orders))
		}
		return nil
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != len(orders) {
		t.Errorf("%d mail files for %d confirmed orders, want one each", len(files), len(orders))
	}
	ring, err := tokens.LoadOrCreate(filepath.Join(w.env["TICKETVELO_DATA_DIR"], "keys.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		path := filepath.Join(dir, "confirmed."+o.id+"@ticketvelo.local.eml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("order %s: %v", o.id, err)
			continue
		}
		codes := ticketCodes(t, data)
		if len(codes) != o.tickets {
			t.Errorf("order %s: %d QR codes for %d tickets", o.id, len(codes), o.tickets)
		}
		for _, c := range codes {
			if tc, err := ring.VerifyTicket(c, time.Now()); err != nil || tc.OrderID != o.id {
				t.Errorf("order %s: ticket code for %q does not verify: %v", o.id, tc.OrderID, err)
			}
		}
	}
}

// ticketCodes decodes the QR codes of the inline images of a mail.
func ticketCodes(t *testing.T, data []byte) []string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			return codes
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(part.Header.Get("Content-Type"), "image/png") {
			continue
		}
		img, err := png.Decode(base64.NewDecoder(base64.StdEncoding, part))
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.GetText())
	}
}
