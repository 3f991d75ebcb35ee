package tokens

import (
	"strings"
	"testing"
)

// TestPlaceReceipts: a receipt gives back its place; changing any field,
// the MAC, or signing with a key the ring does not hold is refused; a key
// kept for verification after a rotation still verifies its receipts.
func TestPlaceReceipts(t *testing.T) {
	old, _ := GenerateKey()
	cur, _ := GenerateKey()
	ring, err := NewRing(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	p := Place{EventID: 7, UserID: 42, Score: 4503599627370496 + 1_800_000_000_000_000}
	rec, err := ring.IssuePlace(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.VerifyPlace(rec); err != nil || got != p {
		t.Fatalf("VerifyPlace(%q) = %+v, %v; want %+v", rec, got, err, p)
	}
	oldRing, _ := NewRing(old)
	oldRec, _ := oldRing.IssuePlace(p)
	if got, err := ring.VerifyPlace(oldRec); err != nil || got != p {
		t.Errorf("a receipt of the previous key: %+v, %v; want it accepted", got, err)
	}
	stranger, _ := GenerateKey()
	strangerRing, _ := NewRing(stranger)
	forged, _ := strangerRing.IssuePlace(p)
	f := strings.Split(rec, ".")
	bad := []string{
		"", "p1", forged, rec + "x", strings.Replace(rec, ".42.", ".43.", 1),
		strings.Join(append(append([]string{}, f[:4]...), "1", f[5]), "."),
		strings.Join(append(append([]string{"p2"}, f[1:5]...), f[5]), "."),
		strings.Repeat("p1.", 100),
	}
	for _, b := range bad {
		if got, err := ring.VerifyPlace(b); err == nil {
			t.Errorf("VerifyPlace(%q) = %+v, want refused", b, got)
		}
	}
}

// FuzzVerifyPlace: no input but a receipt the ring issued is accepted, and
// an accepted one reads back as issued.
func FuzzVerifyPlace(f *testing.F) {
	k, _ := GenerateKey()
	ring, _ := NewRing(k)
	p := Place{EventID: 3, UserID: 7, Score: 4503599627370496 + 1_800_000_000_000_000}
	good, _ := ring.IssuePlace(p)
	for _, s := range []string{good, "", "p1", "p1.....", good[:len(good)-1], strings.Replace(good, ".7.", ".+7.", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, receipt string) {
		got, err := ring.VerifyPlace(receipt)
		if err == nil && (receipt != good || got != p) {
			t.Errorf("accepted %q as %+v", receipt, got)
		}
	})
}
