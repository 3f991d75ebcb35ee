package architecture

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ticketvelo/ticketvelo"

// A part is a top-level folder of the repository, or internal/ as a whole.
type part struct {
	name string
	kind kind
	// serves are the other parts this one may import besides
	// infrastructure: the gateway is the HTTP face of three domain modules
	// and serves the UI in the same process.
	serves []string
}

type kind int

const (
	service        kind = iota // a module of the product: one role, its own tables or keys
	infrastructure             // internal/...: adapters every service may use; knows no service
	composer                   // cmd/: wires everything
	tool                       // drives or checks the product from outside, through services' APIs
	asset                      // frontend/: the embedded UI
)

// parts are the repository's parts; a new top-level package folder fails
// the test until it is placed here (and in docs/ARCHITECTURE.md).
var parts = map[string]part{
	"gateway":   {"gateway", service, []string{"admission", "catalog", "identity", "frontend"}},
	"admission": {"admission", service, nil},
	"booker":    {"booker", service, nil},
	"catalog":   {"catalog", service, nil},
	"identity":  {"identity", service, nil},
	"notifier":  {"notifier", service, nil},
	"internal":  {"internal", infrastructure, nil},
	"cmd":       {"cmd", composer, nil},
	"tools":     {"tools", tool, nil}, // load generation, the edge bench, drop simulation, the fault drill, and their shared API client and scratch world
	"deploy":    {"deploy", tool, nil},
	"frontend":  {"frontend", asset, nil},
}

// pkg is what go list says of one package of the module.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// partOf names the part of an import path of the module, and whether the
// path is the part's root package (its public API) rather than one of its
// subpackages.
func partOf(path string) (name string, root bool) {
	rel := strings.TrimPrefix(path, module+"/")
	name, _, sub := strings.Cut(rel, "/")
	return name, !sub
}

// TestImportRules: the arrows docs/ARCHITECTURE.md allows, and no others.
// A service imports no other service (the gateway imports the three it
// serves); infrastructure imports no service, tool or composer; a tool
// imports services and other tools only by their root packages; a test of one part may
// import another service's root package (to seed or boot it) but never its
// internals (a subpackage).
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of %s, want the module's", len(pkgs), module)
	}
	for _, p := range pkgs {
		from, _ := partOf(p.ImportPath)
		fp, ok := parts[from]
		if !ok {
			t.Errorf("%s: folder %s/ is not placed in the architecture (add it to parts and docs/ARCHITECTURE.md)", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if why := forbidden(fp, imp, false); why != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, why)
			}
		}
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			if why := forbidden(fp, imp, true); why != "" {
				t.Errorf("a test of %s imports %s: %s", p.ImportPath, imp, why)
			}
		}
	}
}

// forbidden says why from may not import imp, or "" when it may.
func forbidden(from part, imp string, test bool) string {
	if !strings.HasPrefix(imp, module+"/") {
		return "" // the standard library and third parties are not ours to rule
	}
	to, root := partOf(imp)
	tp, ok := parts[to]
	switch {
	case !ok:
		return "an unplaced folder"
	case to == from.name, from.kind == composer, tp.kind == infrastructure:
		return ""
	case from.kind == infrastructure:
		return "infrastructure imports no service, tool or composer"
	case slices.Contains(from.serves, to) && root:
		return ""
	case tp.kind == composer:
		return "nothing imports a composer"
	case tp.kind == tool && (from.kind != tool || !root):
		// Tools stack: the drill runs the simulator's fans behind
		// deploy's proxy config.
		return "only a tool imports a tool, by its root package"
	case !root:
		return "another part's internals (a subpackage); give the shared contract a neutral home under internal/"
	case test, from.kind == tool:
		return "" // another service's public API, to seed or drive it
	}
	return "a service imports no other service; declare a small interface and let cmd/ wire the implementation"
}

// listModule runs go list over the module from its root.
func listModule(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}

// TestForbidden: the rules themselves, on arrows the repository does not
// (yet) have, so a rule that stopped failing would be noticed.
func TestForbidden(t *testing.T) {
	p := func(rel string) string { return module + "/" + rel }
	cases := []struct {
		from, imp string
		test      bool
		allowed   bool
	}{
		{"booker", p("notifier"), false, false},
		{"notifier", p("booker"), false, false},
		{"admission", p("catalog"), false, false},
		{"booker", p("internal/database"), false, true},
		{"booker", p("booker/pgstore"), false, true},
		{"gateway", p("booker/pgstore"), false, false},
		{"internal", p("booker"), false, false},
		{"internal", p("booker"), true, false},
		{"internal", p("cmd/ticketvelo"), false, false},
		{"notifier", p("booker/outbox"), true, false},
		{"booker", p("catalog"), true, true},
		{"booker", p("catalog"), false, false},
		{"gateway", p("admission"), false, true},
		{"gateway", p("booker"), false, false},
		{"gateway", p("admission/internal"), false, false},
		{"tools", p("catalog"), false, true},
		{"tools", p("booker/outbox"), false, false},
		{"booker", p("tools/dropsim"), true, false},
		{"tools", p("tools/dropsim"), false, true},
		{"booker", p("tools/apiclient"), false, false},
		{"deploy", p("tools/dropsim"), false, false},
		{"tools", p("deploy"), false, true},
		{"booker", p("deploy"), false, false},
		{"internal", p("deploy"), true, false},
		{"cmd", p("booker"), false, true},
		{"booker", p("newfolder"), false, false},
		{"booker", "github.com/jackc/pgx/v5", false, true},
	}
	for _, c := range cases {
		why := forbidden(parts[c.from], c.imp, c.test)
		if (why == "") != c.allowed {
			t.Errorf("%s -> %s (test %v): got %q, want allowed %v", c.from, c.imp, c.test, why, c.allowed)
		}
	}
}
