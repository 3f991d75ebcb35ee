package notifier

import (
	"bytes"
	"fmt"
	"testing"

	"rsc.io/qr/coding"
)

// TestPenaltyMatchesTheRules checks the bit-set penalty against a plain
// module-by-module reading of ISO/IEC 18004 7.8.3 over codes of several
// versions and every mask.
func TestPenaltyMatchesTheRules(t *testing.T) {
	t.Parallel()
	for _, length := range []int{10, 60, 150, 390, 700} {
		for i := range 4 {
			text := fmt.Sprintf("%d-%d-%s%s", length, i, benchCode, benchCode)[:length]
			enc := coding.String(text)
			v, err := qrVersion(enc)
			if err != nil {
				t.Fatal(err)
			}
			for m := range coding.Mask(8) {
				p, err := qrPlan(v, m)
				if err != nil {
					t.Fatal(err)
				}
				c, err := p.Encode(enc)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := penalty(c), plainPenalty(c); got != want {
					t.Errorf("version %d mask %d: penalty %d, want %d", v, m, got, want)
				}
			}
		}
	}
}

// plainPenalty is the penalty computed the slow, obvious way.
func plainPenalty(c *coding.Code) int {
	n := c.Size
	at := func(x, y int, transpose bool) bool {
		if transpose {
			x, y = y, x
		}
		return c.Black(x, y) // false outside the code
	}
	score := 0
	for _, tr := range []bool{false, true} {
		for y := range n {
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && at(x, y, tr) == at(x-1, y, tr) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			for x := 0; x+7 <= n; x++ {
				pattern := at(x, y, tr) && !at(x+1, y, tr) && at(x+2, y, tr) && at(x+3, y, tr) && at(x+4, y, tr) && !at(x+5, y, tr) && at(x+6, y, tr)
				before, after := true, true
				for k := 1; k <= 4; k++ {
					before = before && !at(x-k, y, tr)
					after = after && !at(x+6+k, y, tr)
				}
				if pattern && (before || after) {
					score += 40
				}
			}
		}
	}
	dark := 0
	for y := range n {
		for x := range n {
			if c.Black(x, y) {
				dark++
			}
			if x+1 < n && y+1 < n {
				d := c.Black(x, y)
				if c.Black(x+1, y) == d && c.Black(x, y+1) == d && c.Black(x+1, y+1) == d {
					score += 3
				}
			}
		}
	}
	dev := dark*100/(n*n) - 50
	if dev < 0 {
		dev = -dev
	}
	return score + dev/5*10
}

// layout must place the modules exactly as rsc.io/qr's own Plan.Encode.
func TestLayoutMatchesPlanEncode(t *testing.T) {
	t.Parallel()
	enc := coding.String(benchCode)
	v, err := qrVersion(enc)
	if err != nil {
		t.Fatal(err)
	}
	var b coding.Bits
	enc.Encode(&b, v)
	b.AddCheckBytes(v, qrLevel)
	for m := range coding.Mask(8) {
		p, err := qrPlan(v, m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := p.Encode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := layout(p, b.Bytes()); !bytes.Equal(got.Bitmap, want.Bitmap) || got.Size != want.Size {
			t.Errorf("mask %d: layout differs from Plan.Encode", m)
		}
	}
}
