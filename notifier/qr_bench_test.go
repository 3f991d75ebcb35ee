package notifier

import "testing"

const benchCode = "eyJhbGciOiJFZERTQSIsImtpZCI6IkFWOVVBWnZaeWFaMmhrcVYifQ.eyJvcmQiOiJhNGZkYzY1Mi0yNjJkLTQ1YmYtYjZhOC1mNmE0ZGFmNmY0ZTIiLCJldnQiOjQyLCJzZWF0IjoiRmxvb3IgQSwgcm93IDEsIHNlYXQgMTMiLCJpc3MiOiJ0aWNrZXR2ZWxvIiwic3ViIjoiYTFiMmMzZDQtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDEyIiwiYXVkIjpbImRvb3IiXSwiZXhwIjoxODA1MzE5ODAwfQ.Gd1qT0UjLmtC3WRr3SV-6YgTOhGqkTY7jGTkwEFkWJ2ZYVWBq0nLe0Xr3iGHtBKe2w-0jHxXkO9kRkOT2PaqCQ"

// BenchmarkQRPNG is one ticket's QR code: eight maskings, their penalties
// and the PNG of the best.
func BenchmarkQRPNG(b *testing.B) {
	for b.Loop() {
		if _, err := qrPNG(benchCode); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQRCodesDecode encodes a few hundred ticket-sized codes, whose data
// decides the mask, and reads each back with ZXing.
func TestQRCodesDecode(t *testing.T) {
	t.Parallel()
	for i := range 300 {
		text := benchCode[:len(benchCode)-4] + string(rune('A'+i%26)) + string(rune('a'+i/26%26)) + "Qz"
		png, err := qrPNG(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeQR(t, png); got != text {
			t.Fatalf("code %d decoded to %q, want %q", i, got, text)
		}
	}
}
