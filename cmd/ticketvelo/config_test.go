package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
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

// TestReadmeListsRealVariables: every variable README.md's Configuration
// tables name is a setting of 'ticketvelo all', so the tables cannot
// outlive a renamed or removed setting.
func TestReadmeListsRealVariables(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var help bytes.Buffer
	_ = run(context.Background(), []string{"all", "-h"}, &help, io.Discard, func(string) string { return "" })
	var names []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `") {
			cell, _, _ := strings.Cut(line[1:], "|")
			names = append(names, regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllString(cell, -1)...)
		}
	}
	if len(names) < 20 {
		t.Fatalf("found %d variables in README.md's Configuration tables; has their format changed?", len(names))
	}
	for _, name := range names {
		if name = strings.Trim(name, "`"); !strings.Contains(help.String(), "(env "+name+")") {
			t.Errorf("README.md lists %s, which 'ticketvelo all -h' does not", name)
		}
	}
}
