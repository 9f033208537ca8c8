package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNoHardcodedWording fails when dialog or channel code writes an
// English sentence itself: everything a resident reads or hears comes
// from the per-language catalogue (dialog/locale), so a French speaker
// never meets a stray English string. Error values and log lines, which
// residents never see, may be written in code.
func TestNoHardcodedWording(t *testing.T) {
	sentence := regexp.MustCompile(`\b(the|you|your|we|our|please|is|are|was|to|for|of|with|and|this|that|can|will|not)\b`)
	words := regexp.MustCompile(`[A-Za-z]+(?:'[a-z]+)?`)
	// Calls whose text is for developers and logs, not residents.
	allowed := regexp.MustCompile(`^(fmt\.Errorf|errors\.New|fmt\.Sprintf|panic|.*\.(Debug|Info|Warn|Error|With|Log|Logf)|slog\.[A-Za-z]+|http\.Error|writeError|apiError|jsonError|regexp\.MustCompile)$`)
	var found []string
	for _, root := range []string{"../../dialog", "../../channels"} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if strings.Contains(path, "twiliotest") {
				return nil // a stand-in for Twilio used by tests
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			// A line marked "// for developers" answers a program (a
			// malformed webhook, the simulator's API), never a resident.
			devLines := map[int]bool{}
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					if strings.Contains(c.Text, "for developers") {
						devLines[fset.Position(c.Pos()).Line] = true
					}
				}
			}
			var stack []ast.Node
			ast.Inspect(f, func(n ast.Node) bool {
				if n == nil {
					stack = stack[:len(stack)-1]
					return true
				}
				stack = append(stack, n)
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || len(words.FindAllString(s, -1)) < 3 || !sentence.MatchString(s) || devLines[fset.Position(lit.Pos()).Line] {
					return true
				}
				for i := len(stack) - 2; i >= 0; i-- {
					switch p := stack[i].(type) {
					case *ast.CallExpr:
						if allowed.MatchString(callName(p.Fun)) {
							return true
						}
					case *ast.ImportSpec, *ast.Field:
						return true
					}
				}
				found = append(found, fset.Position(lit.Pos()).String()+": "+s)
				return true
			})
			return nil
		})
	}
	for _, f := range found {
		t.Errorf("wording written in code instead of the catalogue: %s", f)
	}
}

func callName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return callName(x.X) + "." + x.Sel.Name
	}
	return ""
}
