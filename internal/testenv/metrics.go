package testenv

import (
	"bytes"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// CheckExposition fails the test unless body, a /metrics answer, has
// exactly one # TYPE line and one # HELP line with a text for each metric
// family its samples belong to, and `promtool check metrics` accepts it
// without a complaint. Without promtool it skips, or fails under CI.
func CheckExposition(tb testing.TB, body []byte) {
	tb.Helper()
	types, helps := map[string]int{}, map[string]int{}
	samples := map[string]bool{}
	for line := range strings.Lines(string(body)) {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 3 && fields[0] == "#" && fields[1] == "TYPE":
			types[fields[2]]++
		case len(fields) >= 3 && fields[0] == "#" && fields[1] == "HELP":
			helps[fields[2]]++
			if len(fields) < 4 {
				tb.Errorf("family %s has an empty HELP", fields[2])
			}
		case len(fields) >= 2 && fields[0] != "#":
			name, _, _ := strings.Cut(fields[0], "{")
			samples[name] = true
		}
	}
	families := sampleFamilies(samples)
	typeLines := 0
	for _, n := range types {
		typeLines += n
	}
	if typeLines != len(families) {
		tb.Errorf("%d # TYPE lines for %d metric families", typeLines, len(families))
	}
	for _, f := range slices.Sorted(maps.Keys(families)) {
		if types[f] != 1 || helps[f] != 1 {
			tb.Errorf("family %s has %d TYPE and %d HELP lines, want one each", f, types[f], helps[f])
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		unavailable(tb, "promtool (apt-get install prometheus)", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		tb.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// sampleFamilies maps sample names to their families: a histogram's or
// summary's _bucket, _sum and _count series belong to the name without
// the suffix when a _bucket (histogram) or bare sample (summary) shows it
// is one.
func sampleFamilies(samples map[string]bool) map[string]bool {
	families := map[string]bool{}
	for name := range samples {
		family := name
		for _, sfx := range []string{"_bucket", "_sum", "_count"} {
			base, ok := strings.CutSuffix(name, sfx)
			if ok && (samples[base+"_bucket"] || samples[base] && sfx != "_bucket") {
				family = base
			}
		}
		families[family] = true
	}
	return families
}
