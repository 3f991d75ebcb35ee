// Package promtext writes the process's metrics in Prometheus's text format
// with a HELP and a TYPE line for every family, so Prometheus stores each
// series with its type and Grafana can show what it counts.
// VictoriaMetrics/metrics writes TYPE but leaves HELP empty; Help gives each
// family its text where it is registered, and Write fills it in.
package promtext

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

func init() { metrics.ExposeMetadata(true) }

var (
	mu    sync.RWMutex
	helps = map[string]string{}
)

// Help records what the metric family name counts and returns name, so a
// registration reads metrics.NewCounter(promtext.Help("x_total", "...")).
// A family is registered in one place: describing it twice panics at start.
func Help(name, text string) string {
	family, _, _ := strings.Cut(name, "{")
	if text == "" || strings.ContainsAny(text, "\n\\") {
		panic(fmt.Sprintf("promtext: the help of %s must be one line without backslashes", family))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := helps[family]; dup {
		panic("promtext: metric family " + family + " is described twice; give it one home")
	}
	helps[family] = text
	return name
}

// helpOf is the text of family: its own, or the runtime's from runtimeHelp.
func helpOf(family string) string {
	mu.RLock()
	defer mu.RUnlock()
	if h, ok := helps[family]; ok {
		return h
	}
	return runtimeHelp[family]
}

// Write writes every metric of the process, Go runtime and process metrics
// included, with the HELP texts filled in and the library's misnamed
// families mended (see misfits).
func Write(w io.Writer) error {
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, true)
	out := bufio.NewWriterSize(w, 64<<10)
	for line := range strings.Lines(buf.String()) {
		family, kind := familyOf(line)
		fix, misfit := misfits[family]
		switch {
		case misfit && fix == "":
			continue
		case kind == "HELP":
			line = "# HELP " + family + " " + helpOf(family) + "\n"
		case kind == "TYPE" && misfit:
			line = "# TYPE " + family + " " + fix + "\n"
		}
		if _, err := out.WriteString(line); err != nil {
			return fmt.Errorf("writing metrics: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}

// familyOf returns the family a metadata line (# HELP / # TYPE) names and
// which kind it is, or the sample's metric name with an empty kind.
func familyOf(line string) (family, kind string) {
	if rest, ok := strings.CutPrefix(line, "# "); ok {
		kind, rest, _ = strings.Cut(rest, " ")
		family, _, _ = strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
		return family, kind
	}
	name, _, _ := strings.Cut(line, " ")
	name, _, _ = strings.Cut(name, "{")
	return name, ""
}
