package booker

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function of the booker may be, from its
// func line to its closing brace: long enough for a transaction's steps,
// short enough to read at once.
const maxFuncLines = 60

// TestNoLongFunctions fails when a function or method in booker/ or below
// (tests aside) runs over maxFuncLines, so the hold and order rules and
// the two stores (pgstore, redisstore) stay readable as they change.
func TestNoLongFunctions(t *testing.T) {
	fset := token.NewFileSet()
	files := map[string]int{} // by folder
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.Dir(path)]++
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s is %d lines, want at most %d", fset.Position(fn.Pos()), fn.Name.Name, n, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The rules and both stores must be among what was read.
	for dir, least := range map[string]int{".": 10, "pgstore": 5, "redisstore": 5} {
		if files[dir] < least {
			t.Errorf("read %d Go files in %s, want at least %d (is the test running elsewhere?)", files[dir], filepath.Join("booker", dir), least)
		}
	}
}
