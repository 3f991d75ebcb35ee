package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
	line int
}

// stage is one FROM ... [AS name] and its instructions.
type stage struct {
	base, name   string
	instructions []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// parseDockerfile splits a Dockerfile into stages. It follows the
// Dockerfile syntax the file uses: comments and parser directives, '\'
// continuations, FROM image [AS name].
func parseDockerfile(src []byte) ([]stage, error) {
	var stages []stage
	var joined strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if joined.Len() == 0 {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			start = n
		} else if strings.HasPrefix(line, "#") {
			continue // comments inside a continued instruction are dropped
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			joined.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		joined.WriteString(line)
		cmd, args, _ := strings.Cut(joined.String(), " ")
		joined.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			} else if len(f) != 1 {
				return nil, &lineError{start, "FROM image [AS name]"}
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			return nil, &lineError{start, "instruction before the first FROM"}
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	if joined.Len() > 0 {
		return nil, &lineError{start, "continuation at end of file"}
	}
	return stages, sc.Err()
}

type lineError struct {
	line int
	want string
}

func (e *lineError) Error() string { return "line " + strconv.Itoa(e.line) + ": want " + e.want }

func dockerStages(t *testing.T) []stage {
	t.Helper()
	stages, err := parseDockerfile(readFile(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) != 3 {
		t.Fatalf("Dockerfile has %d stages, want 3 (ui, build, runtime)", len(stages))
	}
	return stages
}

// TestDockerfileStages checks the three stages do what the image promises:
// Node only builds the UI, Go builds a static binary, and the runtime holds
// that binary, not as root, with no shell to run anything else.
func TestDockerfileStages(t *testing.T) {
	t.Parallel()
	stages := dockerStages(t)
	ui, build, runtime := stages[0], stages[1], stages[2]

	names := map[string]bool{}
	for i, s := range stages {
		if !regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+$`).MatchString(s.base) || strings.HasSuffix(s.base, ":latest") {
			t.Errorf("stage %d: base image %q, want one pinned by tag", i, s.base)
		}
		for _, in := range s.all("COPY") {
			if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil && !names[m[1]] {
				t.Errorf("line %d copies from %q, which is no earlier stage", in.line, m[1])
			}
		}
		names[s.name] = true
	}

	if !strings.HasPrefix(ui.base, "node:") || !strings.Contains(joinArgs(ui.all("RUN")), "npm ci") || !strings.Contains(joinArgs(ui.all("RUN")), "npm run build") {
		t.Errorf("first stage (%s) should build the UI with npm ci && npm run build", ui.base)
	}
	if major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(ui.base, "node:"), "-", 2)[0]); major < 22 {
		t.Errorf("UI stage runs %s; Vite 8 wants Node 22.12 or later (or 20.19)", ui.base)
	}
	if _, err := os.Stat(repoPath("frontend", "package.json")); err == nil {
		if _, err := os.Stat(repoPath("frontend", "package-lock.json")); err != nil {
			t.Errorf("frontend/package.json without package-lock.json: `npm ci` in the image would fail")
		}
	}

	goVersion := goModVersion(t)
	m := regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)`).FindStringSubmatch(build.base)
	if m == nil {
		t.Fatalf("second stage builds from %s, want golang:VERSION", build.base)
	}
	if compareVersions(m[1], goVersion) < 0 {
		t.Errorf("build stage uses Go %s, but go.mod needs %s (the go command would try to download a toolchain)", m[1], goVersion)
	}
	buildCmd := goBuildCommand(t, build)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/ticketvelo"} {
		if !slices.Contains(buildCmd, want) {
			t.Errorf("go build command %q lacks %s", buildCmd, want)
		}
	}

	if !regexp.MustCompile(`^gcr\.io/distroless/static[a-z0-9-]*:nonroot$`).MatchString(runtime.base) {
		t.Errorf("runtime image %s, want distroless/static:nonroot", runtime.base)
	}
	if runs := runtime.all("RUN"); len(runs) > 0 {
		t.Errorf("line %d: RUN in the runtime stage; distroless has no shell to run it", runs[0].line)
	}
	for _, in := range runtime.all("COPY") {
		if !strings.Contains(in.args, "--from=build") {
			t.Errorf("line %d: the runtime stage copies %q from outside the build stage", in.line, in.args)
		}
	}
	users := runtime.all("USER")
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1].args, "0") || strings.HasPrefix(users[len(users)-1].args, "root") {
		t.Error("the runtime stage does not switch to a non-root USER")
	}
	if got := exec1(t, runtime, "ENTRYPOINT"); !slices.Equal(got, []string{"/ticketvelo"}) {
		t.Errorf("ENTRYPOINT %q, want [\"/ticketvelo\"] so `docker run IMAGE gateway` runs a subcommand", got)
	}
	known := subcommands(t)
	if cmd := exec1(t, runtime, "CMD"); len(cmd) == 0 || !slices.Contains(known, cmd[0]) {
		t.Errorf("CMD %q is no subcommand of %v", cmd, known)
	}
	hc := runtime.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatal("the runtime stage needs one HEALTHCHECK")
	}
	_, form, _ := strings.Cut(hc[0].args, "CMD ")
	var probe []string
	if err := json.Unmarshal([]byte(form), &probe); err != nil || len(probe) < 2 || probe[0] != "/ticketvelo" || !slices.Contains(known, probe[1]) {
		t.Errorf("HEALTHCHECK %q, want the exec form running a subcommand of /ticketvelo (%v): %v", hc[0].args, known, err)
	}
}

func joinArgs(ins []instruction) string {
	var parts []string
	for _, in := range ins {
		parts = append(parts, in.args)
	}
	return strings.Join(parts, "\n")
}

// exec1 is the JSON (exec form) argument list of the stage's last cmd.
func exec1(t *testing.T, s stage, cmd string) []string {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) == 0 {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(ins[len(ins)-1].args), &out); err != nil {
		t.Errorf("line %d: %s %s is not in exec (JSON) form: %v", ins[len(ins)-1].line, cmd, ins[len(ins)-1].args, err)
	}
	return out
}

// goBuildCommand is the words of the build stage's `go build`, from the
// environment assignments before it to its last argument.
func goBuildCommand(t *testing.T, build stage) []string {
	t.Helper()
	for _, in := range build.all("RUN") {
		for _, part := range strings.Split(in.args, "&&") {
			words := shellWords(part)
			i := slices.Index(words, "go")
			if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
				continue
			}
			start := i
			for start > 0 && strings.Contains(words[start-1], "=") && !strings.HasPrefix(words[start-1], "-") {
				start--
			}
			return words[start:]
		}
	}
	t.Fatal("the build stage has no `go build`")
	return nil
}

// shellWords splits s like sh would for the plain commands a Dockerfile
// uses: whitespace separates, quotes group and are removed.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func goModVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)$`).FindSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// compareVersions compares dotted versions; a missing part sorts as the
// newest (golang:1.26 is the latest 1.26.x).
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		if i >= len(pa) || i >= len(pb) {
			return len(pb) - len(pa)
		}
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return 0
}

func TestParseDockerfileHelpers(t *testing.T) {
	t.Parallel()
	stages, err := parseDockerfile([]byte("# syntax=docker/dockerfile:1\nARG X=1\nFROM a:1 AS one\nRUN echo \\\n  # dropped\n  two && \\\n  go build -o x .\nFROM b:2\nCOPY --from=one /x /x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].name != "one" || stages[1].base != "b:2" {
		t.Fatalf("stages = %+v", stages)
	}
	if got := stages[0].instructions[0]; got.cmd != "RUN" || got.args != "echo two && go build -o x ." || got.line != 4 {
		t.Errorf("joined RUN = %+v", got)
	}
	for _, bad := range []string{"RUN x\n", "FROM a b\n", "FROM a\nRUN x \\\n"} {
		if _, err := parseDockerfile([]byte(bad)); err == nil {
			t.Errorf("parseDockerfile(%q) succeeded, want an error", bad)
		}
	}
	if got := shellWords(`CGO_ENABLED=0 go build -ldflags="-s -w" -o '/a b'`); !slices.Equal(got, []string{"CGO_ENABLED=0", "go", "build", "-ldflags=-s -w", "-o", "/a b"}) {
		t.Errorf("shellWords = %q", got)
	}
	for _, tt := range []struct {
		a, b string
		sign int
	}{{"1.26.8", "1.26.8", 0}, {"1.26.9", "1.26.8", 1}, {"1.26.7", "1.26.8", -1}, {"1.26", "1.26.8", 1}, {"1.27", "1.26.8", 1}, {"1.25.10", "1.26", -1}} {
		if got := compareVersions(tt.a, tt.b); (got > 0) != (tt.sign > 0) || (got < 0) != (tt.sign < 0) {
			t.Errorf("compareVersions(%s, %s) = %d, want sign %d", tt.a, tt.b, got, tt.sign)
		}
	}
}

// dockerignore is the .dockerignore patterns; matches reports whether a
// path of the build context (slash-separated, relative) is left out, with
// Docker's rules: patterns are anchored at the root, '**' spans
// directories, a pattern excludes what is under a matched directory, and a
// later '!pattern' puts a path back.
type dockerignore []string

func (d dockerignore) matches(path string) bool {
	excluded := false
	for _, p := range d {
		negate := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("(?:/.*)?$")
		if regexp.MustCompile(re.String()).MatchString(path) {
			excluded = !negate
		}
	}
	return excluded
}

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	var d dockerignore
	for line := range strings.Lines(string(readFile(t, ".dockerignore"))) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			d = append(d, line)
		}
	}
	return d
}

// TestDockerignore checks the build context keeps every file the binary is
// built from (each package cmd/ticketvelo imports and every file they
// embed) and leaves out local state and what the image rebuilds itself.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	ignore := readDockerignore(t)
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/ticketvelo")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for dec.More() {
		var pkg struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if pkg.Module == nil || !pkg.Module.Main {
			continue // the standard library and modules come from go mod download
		}
		rel, _ := filepath.Rel(root, pkg.Dir)
		for _, f := range pkg.GoFiles {
			checked++
			if p := filepath.ToSlash(filepath.Join(rel, f)); ignore.matches(p) {
				t.Errorf(".dockerignore leaves out %s, which the binary is built from", p)
			}
		}
		for _, f := range pkg.EmbedFiles {
			p := filepath.ToSlash(filepath.Join(rel, f))
			if ignore.matches(p) && !strings.HasPrefix(p, "frontend/dist/") { // the ui stage builds dist
				t.Errorf(".dockerignore leaves out %s, which the binary embeds", p)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d Go files; go list output changed?", checked)
	}
	for _, p := range []string{"go.mod", "go.sum", "frontend/package.json", "frontend/src/main.tsx"} {
		if ignore.matches(p) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", "frontend/node_modules/vite/package.json", "frontend/dist/index.html", "data/keys.pem", "bin/ticketvelo"} {
		if !ignore.matches(p) {
			t.Errorf(".dockerignore sends %s to the builder; it is local state or rebuilt in the image", p)
		}
	}
}

func TestDockerignoreMatching(t *testing.T) {
	t.Parallel()
	d := dockerignore{".git", "**/*.test", "frontend/dist", "docs/*.md", "!docs/KEEP.md"}
	for path, want := range map[string]bool{
		".git": true, ".git/objects/ab": true, ".github/x": false,
		"a.test": true, "booker/booker.test": true, "booker/booker_test.go": false,
		"frontend/dist/index.html": true, "frontend/distx": false,
		"docs/API.md": true, "docs/KEEP.md": false, "docs/sub/API.md": false,
	} {
		if got := d.matches(path); got != want {
			t.Errorf("matches(%s) = %v, want %v", path, got, want)
		}
	}
}

// TestDockerBuildIsStatic builds the binary exactly as the Dockerfile's
// build stage does and checks it needs no dynamic loader or C library, so
// it runs on distroless/static. The first build with these flags compiles
// the standard library again (a minute or two); -short skips it.
func TestDockerBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the CGO_ENABLED=0 build")
	}
	t.Parallel()
	words := goBuildCommand(t, dockerStages(t)[1])
	var envs, args []string
	i := 0
	for ; words[i] != "go"; i++ {
		envs = append(envs, words[i])
	}
	bin := filepath.Join(t.TempDir(), "ticketvelo")
	for j := i + 1; j < len(words); j++ {
		if words[j] == "-o" && j+1 < len(words) {
			args = append(args, "-o", bin)
			j++
			continue
		}
		args = append(args, words[j])
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), envs...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(envs, " "), strings.Join(args, " "), err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader; distroless/static has none")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links %v; distroless/static has no C library", libs)
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "healthcheck") {
		t.Errorf("the static binary's help: %v\n%s", err, out)
	}
}
