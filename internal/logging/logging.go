// Package logging builds the zerolog logger every TicketVelo process uses.
package logging

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") as JSON lines, or as coloured text when format is "console".
func New(w io.Writer, level, format string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
