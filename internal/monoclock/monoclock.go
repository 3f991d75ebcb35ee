// Package monoclock reads the monotonic clock as an int64, for moments kept
// in atomics. A wall-clock reading (UnixNano) kept that way goes wrong
// when NTP steps the clock: stepped back an hour, a "quiet until" or
// "fresh until" stays in the future for that hour.
package monoclock

import "time"

// origin carries the monotonic reading that Now counts from.
var origin = time.Now()

// Now is nanoseconds on the monotonic clock since the process started,
// always above zero, so zero can mean "never".
func Now() int64 { return int64(time.Since(origin)) + 1 }

// Since is how long ago a moment read from Now was.
func Since(t int64) time.Duration { return time.Duration(Now() - t) }
