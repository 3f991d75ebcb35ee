package notifier

import (
	"errors"
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
	var best *coding.Code
	bestScore := -1
	for m := range coding.Mask(8) {
		p, err := qrPlan(v, m)
		if err != nil {
			return nil, err
		}
		c, err := p.Encode(enc)
		if err != nil {
			return nil, err
		}
		if s := penalty(c); bestScore < 0 || s < bestScore {
			best, bestScore = c, s
		}
	}
	code := qr.Code{Bitmap: best.Bitmap, Size: best.Size, Stride: best.Stride, Scale: 4}
	return code.PNG(), nil
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
// long runs, 2x2 blocks, finder-like 1:1:3:1:1 patterns, dark imbalance.
func penalty(c *coding.Code) int {
	n := c.Size
	rows := make([]byte, n*n) // 1 is dark
	cols := make([]byte, n*n) // the same, transposed
	dark := 0
	for y := range n {
		for x := range n {
			if c.Black(x, y) {
				rows[y*n+x], cols[x*n+y] = 1, 1
				dark++
			}
		}
	}
	score := linePenalty(rows, n) + linePenalty(cols, n)
	for y := 0; y+1 < n; y++ { // N2: 2x2 blocks of one colour
		for x := 0; x+1 < n; x++ {
			d := rows[y*n+x]
			if rows[y*n+x+1] == d && rows[(y+1)*n+x] == d && rows[(y+1)*n+x+1] == d {
				score += 3
			}
		}
	}
	dev := dark*100/(n*n) - 50 // N4: share of dark modules away from half
	if dev < 0 {
		dev = -dev
	}
	return score + dev/5*10
}

// linePenalty scores the rows of g (n by n) for runs of five or more modules
// of one colour (N1) and for dark-light-dark-dark-dark-light-dark with four
// light modules on one side, the edge counting as light (N3).
func linePenalty(g []byte, n int) int {
	score := 0
	for y := range n {
		line := g[y*n : (y+1)*n]
		run := 1
		for x := 1; x <= n; x++ {
			if x < n && line[x] == line[x-1] {
				run++
				continue
			}
			if run >= 5 {
				score += 3 + run - 5
			}
			run = 1
		}
		for x := 0; x+7 <= n; x++ {
			if line[x] == 1 && line[x+1] == 0 && line[x+2] == 1 && line[x+3] == 1 && line[x+4] == 1 && line[x+5] == 0 && line[x+6] == 1 &&
				(lightRun(line, x-4, x) || lightRun(line, x+7, x+11)) {
				score += 40
			}
		}
	}
	return score
}

// lightRun reports whether line[from:to] is light; beyond the edge is light.
func lightRun(line []byte, from, to int) bool {
	for x := max(from, 0); x < min(to, len(line)); x++ {
		if line[x] == 1 {
			return false
		}
	}
	return true
}
