package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
