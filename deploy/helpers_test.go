package deploy

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"go.yaml.in/yaml/v3"
)

// root is the repository's top directory: this package sits one below it.
var root = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(wd)
}()

func repoPath(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }

func readFile(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(repoPath(parts...))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// readYAML decodes a YAML file strictly: an unknown field is an error, so a
// misspelt key fails here instead of being ignored by the tool reading it.
func readYAML(tb testing.TB, v any, parts ...string) {
	tb.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(tb, parts...)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: %v", filepath.Join(parts...), err)
	}
}

// goMetricNames are the metric names the Go code exports: every
// ticketvelo_* name inside a string literal of a non-test .go file (with
// _bucket, _sum and _count when the literal names a histogram or summary),
// plus the Go runtime and process metrics VictoriaMetrics/metrics writes,
// plus the series Prometheus itself adds to every scrape.
var goMetricNames = sync.OnceValues(func() (map[string]bool, error) {
	names := map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}
	pattern := regexp.MustCompile(`ticketvelo_[a-zA-Z0-9_]+`)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		// A name given to a histogram or summary constructor also has
		// the series the exposition format derives from it.
		suffixes := func(call *ast.CallExpr) []string {
			sel, ok := call.Fun.(*ast.SelectorExpr)
			switch {
			case !ok:
			case strings.Contains(sel.Sel.Name, "Histogram"):
				return []string{"_bucket", "_sum", "_count"}
			case strings.Contains(sel.Sel.Name, "Summary"):
				return []string{"_sum", "_count"}
			}
			return nil
		}
		var collect func(n ast.Node, derived []string)
		collect = func(n ast.Node, derived []string) {
			ast.Inspect(n, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && n != nil {
					if sfx := suffixes(call); sfx != nil && len(call.Args) > 0 {
						collect(call.Args[0], sfx)
						for _, arg := range call.Args[1:] {
							collect(arg, nil)
						}
						collect(call.Fun, nil)
						return false
					}
				}
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				for _, m := range pattern.FindAllString(s, -1) {
					names[m] = true
					for _, sfx := range derived {
						names[m+sfx] = true
					}
				}
				return true
			})
		}
		collect(file, nil)
		return nil
	})
	// The runtime metrics come from the library itself, as /metrics writes them.
	var buf bytes.Buffer
	metrics.WriteProcessMetrics(&buf)
	for line := range strings.Lines(buf.String()) {
		if name, _, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			name, _, _ = strings.Cut(name, "{")
			names[name] = true
		}
	}
	return names, err
})

// metricExists reports whether the Go code exports name.
func metricExists(tb testing.TB, name string) bool {
	tb.Helper()
	names, err := goMetricNames()
	if err != nil {
		tb.Fatalf("reading the Go source for metric names: %v", err)
	}
	return names[name]
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlTokens   = regexp.MustCompile(`\$\w+|[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promqlKeywords = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"bool": true, "offset": true, "and": true, "or": true, "unless": true, "atan2": true,
		"inf": true, "nan": true, "start": true, "end": true,
	}
)

// promqlMetrics returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping labels,
// function calls, keywords, numbers and Grafana variables are set aside.
// It is no full parser; promtool parses the rules for real where it is
// installed, and TestPromQLMetrics pins down what this finds.
func promqlMetrics(expr string) []string {
	expr = promqlStrings.ReplaceAllString(expr, `""`)
	expr = promqlMatchers.ReplaceAllString(expr, "{}")
	expr = promqlRanges.ReplaceAllString(expr, "[]")
	expr = promqlGrouping.ReplaceAllString(expr, " ")
	var names []string
	for _, tok := range promqlTokens.FindAllString(expr, -1) {
		if tok[0] == '$' || tok[0] >= '0' && tok[0] <= '9' || strings.HasSuffix(tok, "(") {
			continue // a Grafana variable, a number or duration, a function or aggregation
		}
		tok = strings.TrimSpace(tok)
		if !promqlKeywords[strings.ToLower(tok)] && !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

// checkPromQL fails unless expr selects at least one metric and every one of
// them is exported by the Go code, and unless a histogram_quantile reads
// the buckets by le.
func checkPromQL(t *testing.T, where, expr string) {
	t.Helper()
	names := promqlMetrics(expr)
	if len(names) == 0 {
		t.Errorf("%s: %q selects no metric", where, expr)
	}
	for _, name := range names {
		if !metricExists(t, name) {
			t.Errorf("%s: metric %s is not exported by any Go code (expression %q)", where, name, expr)
		}
	}
	if strings.Contains(expr, "histogram_quantile") && (!strings.Contains(expr, "_bucket") || !regexp.MustCompile(`\ble\b`).MatchString(expr)) {
		t.Errorf("%s: histogram_quantile needs the _bucket series summed by le: %q", where, expr)
	}
	if strings.Count(expr, "(") != strings.Count(expr, ")") {
		t.Errorf("%s: unbalanced parentheses in %q", where, expr)
	}
}

// binaryDir holds the binary ticketveloBinary built, removed by TestMain.
var binaryDir string

// ticketveloBinary builds cmd/ticketvelo once for the tests that ask the
// real binary which subcommands, flags and variables it has.
var ticketveloBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ticketvelo-deploy-test-")
	if err != nil {
		return "", err
	}
	binaryDir = dir
	bin := filepath.Join(dir, "ticketvelo")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ticketvelo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string {
	return "go build ./cmd/ticketvelo: " + e.err.Error() + "\n" + e.out
}

// binaryHelp is what `ticketvelo args...` prints (for `help` or `CMD -h`).
func binaryHelp(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := ticketveloBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{} // the help must not depend on this machine's variables
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ticketvelo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// subcommands are the command names `ticketvelo help` lists.
func subcommands(t *testing.T) []string {
	t.Helper()
	help := binaryHelp(t, "help")
	_, list, ok := strings.Cut(help, "Commands:\n")
	if !ok {
		t.Fatalf("ticketvelo help has no Commands: section:\n%s", help)
	}
	var names []string
	for line := range strings.Lines(list) {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(line, "  ") {
			break
		}
		names = append(names, fields[0])
	}
	return names
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}
