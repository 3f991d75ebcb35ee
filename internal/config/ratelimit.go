package config

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// RateLimit allows N requests per window Per; N = 0 disables the limit.
// Services count them on windows aligned on the clock.
type RateLimit struct {
	N   int
	Per time.Duration
}

func (l RateLimit) String() string {
	if l.N == 0 {
		return "off"
	}
	return strconv.Itoa(l.N) + "/" + l.Per.String()
}

// ParseRateLimit reads "N/duration" such as "20/1m", or "off".
func ParseRateLimit(s string) (RateLimit, error) {
	if s == "off" || s == "0" {
		return RateLimit{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, errors.New("expected N/duration such as 20/1m, or off")
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 0 {
		return RateLimit{}, errors.New("expected a count of 0 or more before '/'")
	}
	d, err := time.ParseDuration(per)
	if err != nil || d < time.Second {
		return RateLimit{}, errors.New("expected a window of at least 1s after '/'")
	}
	return RateLimit{N: count, Per: d}, nil
}
