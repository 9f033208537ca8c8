package locale

import (
	"strings"
	"testing"
)

// replacerFill is what Fill replaced: a strings.Replacer of the pairs.
func replacerFill(msg string, vars ...string) string {
	if len(vars) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(vars))
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "{"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

func TestFillIsAReplacer(t *testing.T) {
	for _, c := range []struct {
		msg  string
		vars []string
	}{
		{"Your reference number is {ref}.", []string{"ref", "EX-000001"}},
		{"{a}{b}{a}", []string{"a", "1", "b", "2"}},
		{"{city} {city}", []string{"city", "first", "city", "second"}},
		{"{{ref}} {ref", []string{"ref", "x"}},
		{"{a{b}}", []string{"b", "B", "a{b", "no"}},
		{"{} {x}", []string{"", "empty"}},
		{"no placeholders", []string{"a", "b"}},
		{"{odd}", []string{"odd"}},
		{"é{ç}ü", []string{"ç", "{ç}"}},
	} {
		if got, want := Fill(c.msg, c.vars...), replacerFill(c.msg, c.vars...); got != want {
			t.Errorf("Fill(%q, %q) = %q, want %q", c.msg, c.vars, got, want)
		}
	}
}

func FuzzFill(f *testing.F) {
	f.Add("Request {ref} ({service}{where}) is open", "ref", "EX-1", "where", " at {ref}")
	f.Add("{a}{a}", "a", "{a}", "a", "b")
	f.Fuzz(func(t *testing.T, msg, n1, v1, n2, v2 string) {
		if got, want := Fill(msg, n1, v1, n2, v2), replacerFill(msg, n1, v1, n2, v2); got != want {
			t.Fatalf("Fill(%q, %q, %q, %q, %q) = %q, want %q", msg, n1, v1, n2, v2, got, want)
		}
	})
}
