package main

import (
	"github.com/ticketvelo/ticketvelo/booker"
	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/notifier"
)

// stack holds the Configs of the services a process runs. Each service
// owns its Config (defaults, flags, validation); a command binds those of
// the services it runs beside the shared groups, and passes each service
// its own Config as it is.
type stack struct {
	gateway  gateway.Config // the admission's within
	booker   booker.Config
	notifier notifier.Config
}

// The services a command runs, whose Configs it binds.
const (
	runsGateway = 1 << iota
	runsBooker
	runsNotifier
)

func defaultStack() stack {
	return stack{gateway: gateway.DefaultConfig(), booker: booker.DefaultConfig(), notifier: notifier.DefaultConfig()}
}

// settings are the Configs of the services in runs, in the order their
// errors are reported.
func (s *stack) settings(runs int) []config.Settings {
	var out []config.Settings
	if runs&runsGateway != 0 {
		out = append(out, &s.gateway)
	}
	if runs&runsBooker != 0 {
		out = append(out, &s.booker)
	}
	if runs&runsNotifier != 0 {
		out = append(out, &s.notifier)
	}
	return out
}
