package notifier

import (
	"errors"
	"math/bits"
	"sync"

	"rsc.io/qr"
	"rsc.io/qr/coding"
)

// qrLevel is the error correction of ticket QR codes: M survives a
// scratched screen or a smudged print.
const qrLevel = coding.M

// qrPNG encodes text as a QR code PNG, four pixels per module with the
// quiet zone (about 340 px for a ticket code).
//
// rsc.io/qr encodes several times faster than the other Go encoders tried
// here, but always applies mask 0, and a code without the mask the standard
// asks for can hold patterns that look like finder marks: ZXing, the
// decoder of many phone scanners, failed on about one code in sixteen.
// So this picks the mask of least penalty (ISO/IEC 18004, 7.8.3) itself.
func qrPNG(text string) ([]byte, error) {
	enc := coding.String(text)
	v, err := qrVersion(enc)
	if err != nil {
		return nil, err
	}
	// The data and check bytes do not depend on the mask: encode them once
	// and lay them out under each mask (what coding.Plan.Encode does, minus
	// redoing the Reed-Solomon code eight times).
	var b coding.Bits
	enc.Encode(&b, v)
	b.AddCheckBytes(v, qrLevel)
	data := b.Bytes()
	var best *coding.Code
	bestScore := -1
	for m := range coding.Mask(8) {
		p, err := qrPlan(v, m)
		if err != nil {
			return nil, err
		}
		c := layout(p, data)
		if s := penalty(c); bestScore < 0 || s < bestScore {
			best, bestScore = c, s
		}
	}
	code := qr.Code{Bitmap: best.Bitmap, Size: best.Size, Stride: best.Stride, Scale: 4}
	return code.PNG(), nil
}

// layout places data (data and check bytes) on the modules of plan p.
func layout(p *coding.Plan, data []byte) *coding.Code {
	c := &coding.Code{Size: len(p.Pixel), Stride: (len(p.Pixel) + 7) &^ 7}
	c.Bitmap = make([]byte, c.Stride*c.Size)
	for y, row := range p.Pixel {
		out := c.Bitmap[y*c.Stride:]
		for x, pix := range row {
			if role := pix.Role(); role == coding.Data || role == coding.Check {
				if o := pix.Offset(); data[o/8]&(1<<(7-o&7)) != 0 {
					pix ^= coding.Black
				}
			}
			if pix&coding.Black != 0 {
				out[x/8] |= 1 << (7 - x&7)
			}
		}
	}
	return c
}

// qrVersion is the smallest version that holds enc.
func qrVersion(enc coding.Encoding) (coding.Version, error) {
	for v := coding.Version(coding.MinVersion); v <= coding.MaxVersion; v++ {
		if enc.Bits(v) <= v.DataBytes(qrLevel)*8 {
			return v, nil
		}
	}
	return 0, errors.New("text too long for a QR code")
}

// qrPlans caches plans by version and mask: building one lays out every
// module, while ticket codes all have about the same length.
var qrPlans sync.Map // int(version)*8+mask -> *coding.Plan

func qrPlan(v coding.Version, m coding.Mask) (*coding.Plan, error) {
	key := int(v)*8 + int(m)
	if p, ok := qrPlans.Load(key); ok {
		return p.(*coding.Plan), nil
	}
	p, err := coding.NewPlan(v, qrLevel, m)
	if err != nil {
		return nil, err
	}
	qrPlans.Store(key, p)
	return p, nil
}

// penalty scores a masked code by the four rules of ISO/IEC 18004 7.8.3:
// long runs (N1), 2x2 blocks (N2), finder-like 1:1:3:1:1 patterns (N3) and
// dark imbalance (N4). Rows and columns are bit sets, so one word operation
// tests 64 modules: eight maskings of a ticket code cost ~0.1 ms, not 1.5.
func penalty(c *coding.Code) int {
	n := c.Size
	rows, cols := newBitGrid(n), newBitGrid(n)
	dark := 0
	for y := range n {
		// The bitmap is most significant bit first, eight modules a byte.
		src, row := c.Bitmap[y*c.Stride:], rows.row(y)
		for b := 0; b*8 < n; b++ {
			row[b/8] |= uint64(bits.Reverse8(src[b])) << (b % 8 * 8)
		}
		row[rows.words-1] &= rows.mask(rows.words-1, n)
		for i, w := range row {
			dark += bits.OnesCount64(w)
			for ; w != 0; w &= w - 1 {
				cols.set(y, i*64+bits.TrailingZeros64(w))
			}
		}
	}
	score := rows.linePenalty() + cols.linePenalty()
	for y := 0; y+1 < n; y++ { // N2
		r0, r1 := rows.row(y), rows.row(y+1)
		for i := range r0 {
			a, b := r0[i], r1[i]
			same := ^(a ^ shiftDown(r0, i, 1)) & ^(b ^ shiftDown(r1, i, 1)) & ^(a ^ b)
			score += 3 * bits.OnesCount64(same&rows.mask(i, n-1))
		}
	}
	dev := dark*100/(n*n) - 50 // N4
	if dev < 0 {
		dev = -dev
	}
	return score + dev/5*10
}

// bitGrid is n rows of n modules, bit x of a row is module x, 1 is dark.
type bitGrid struct {
	n, words int
	bits     []uint64
}

func newBitGrid(n int) bitGrid {
	w := (n + 63) / 64
	return bitGrid{n: n, words: w, bits: make([]uint64, w*n)}
}

func (g bitGrid) set(x, y int)       { g.bits[y*g.words+x/64] |= 1 << (x % 64) }
func (g bitGrid) row(y int) []uint64 { return g.bits[y*g.words : (y+1)*g.words] }
func (g bitGrid) mask(i, limit int) uint64 {
	// Bits of word i whose module index is below limit.
	lo := i * 64
	switch {
	case limit <= lo:
		return 0
	case limit >= lo+64:
		return ^uint64(0)
	}
	return 1<<(limit-lo) - 1
}

// shiftDown is word i of row shifted so that bit x holds module x+k
// (modules beyond the row read as light).
func shiftDown(row []uint64, i, k int) uint64 {
	w := row[i] >> k
	if i+1 < len(row) {
		w |= row[i+1] << (64 - k)
	}
	return w
}

// shiftUp is word i of row shifted so that bit x holds module x-k (modules
// before the row read as light).
func shiftUp(row []uint64, i, k int) uint64 {
	w := row[i] << k
	if i > 0 {
		w |= row[i-1] >> (64 - k)
	}
	return w
}

// linePenalty scores every row for N1 (runs of five or more modules of one
// colour: 3 plus one per module past five) and N3 (dark-light-dark-dark-
// dark-light-dark with four light modules before or after it, the edge
// counting as light: 40 each).
func (g bitGrid) linePenalty() int {
	score := 0
	for y := range g.n {
		row := g.row(y)
		last := -1 // module index where the current run started, minus one
		for i := range row {
			// Bit x of edges: module x differs from module x+1.
			edges := (row[i] ^ shiftDown(row, i, 1)) & g.mask(i, g.n-1)
			for edges != 0 {
				x := i*64 + bits.TrailingZeros64(edges)
				if run := x - last; run >= 5 {
					score += 3 + run - 5
				}
				last = x
				edges &= edges - 1
			}
			finder := row[i] & ^shiftDown(row, i, 1) & shiftDown(row, i, 2) & shiftDown(row, i, 3) &
				shiftDown(row, i, 4) & ^shiftDown(row, i, 5) & shiftDown(row, i, 6) & g.mask(i, g.n-6)
			if finder == 0 {
				continue
			}
			lightBefore := ^(shiftUp(row, i, 1) | shiftUp(row, i, 2) | shiftUp(row, i, 3) | shiftUp(row, i, 4))
			lightAfter := ^(shiftDown(row, i, 7) | shiftDown(row, i, 8) | shiftDown(row, i, 9) | shiftDown(row, i, 10))
			score += 40 * bits.OnesCount64(finder&(lightBefore|lightAfter))
		}
		if run := g.n - 1 - last; run >= 5 {
			score += 3 + run - 5
		}
	}
	return score
}
