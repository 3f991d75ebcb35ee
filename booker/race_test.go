//go:build race

package booker

// raceEnabled: the race detector slows everything several times, so tests
// that measure time give it more.
const raceEnabled = true
