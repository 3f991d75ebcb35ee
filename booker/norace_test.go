//go:build !race

package booker

const raceEnabled = false
