package main

import (
	"flag"
	"testing"
)

// TestEveryServiceSettingIsAFlag: each command that runs a service binds
// every field of that service's Config to a flag (the admission's within
// the gateway's too), so 'ticketvelo COMMAND -h' lists it and an operator
// can set it; a setting added without a flag fails here.
func TestEveryServiceSettingIsAFlag(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, c := range commands {
		bc := c.bindFlags(flag.NewFlagSet(c.name, flag.ContinueOnError), func(string) string { return "" })
		for _, s := range bc.services {
			checked++
			if unbound := bc.binder.Unbound(s); len(unbound) > 0 {
				t.Errorf("ticketvelo %s: settings of %T without a flag: %v", c.name, s, unbound)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("checked %d Configs of services; want at least the gateway's, the booker's and the notifier's", checked)
	}
}
