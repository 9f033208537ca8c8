package locale

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// A prefilter is what any match of a pattern must contain: a short list
// of literal strings, at least one of which is in every text the pattern
// matches. Most messages contain none of an intent's words, so most
// patterns are ruled out with a few strings.Contains calls instead of a
// backtracking regular-expression run. It never changes what matches: a
// pattern it cannot reason about gets no prefilter and always runs.
type prefilter []string

// mayMatch reports whether s could match: false only when s contains
// none of the required strings.
func (p prefilter) mayMatch(s string) bool {
	if p == nil {
		return true
	}
	for _, lit := range p {
		if strings.Contains(s, lit) {
			return true
		}
	}
	return false
}

// Limits on the analysis: sets of literals larger than this are given up
// (the pattern then runs unfiltered, or a smaller requirement is used).
const maxLiterals = 32

// newPrefilter analyses a pattern; nil when it has no useful requirement.
func newPrefilter(expr string) prefilter {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	a := analyse(re.Simplify())
	best := a.best()
	if best == nil || minLen(best) < 2 {
		return nil
	}
	return best
}

// analysis is what is known of a subexpression: exact is the finite set
// of strings it matches (nil when unknown or too many); req the best set
// of which every match contains one (nil when none is known).
type analysis struct {
	exact []string
	req   []string
}

// best is the requirement to use: the exact set (when it has no empty
// string) or req, whichever is better.
func (a analysis) best() []string {
	var ex []string
	if a.exact != nil && !slices.Contains(a.exact, "") {
		ex = a.exact
	}
	return better(ex, a.req)
}

// better picks the more selective requirement: literals of at least
// three bytes first, then fewer literals, then longer ones.
func better(a, b []string) []string {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	la, lb := minLen(a), minLen(b)
	if (la >= 3) != (lb >= 3) {
		if la >= 3 {
			return a
		}
		return b
	}
	if len(a) != len(b) {
		if len(a) < len(b) {
			return a
		}
		return b
	}
	if la >= lb {
		return a
	}
	return b
}

func minLen(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

func analyse(re *syntax.Regexp) analysis {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return analysis{}
		}
		return analysis{exact: []string{string(re.Rune)}}
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			if n > 8 {
				return analysis{}
			}
		}
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				out = append(out, string(r))
			}
		}
		return analysis{exact: out}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return analysis{exact: []string{""}}
	case syntax.OpCapture:
		return analyse(re.Sub[0])
	case syntax.OpQuest:
		a := analyse(re.Sub[0])
		if a.exact != nil {
			return analysis{exact: union(a.exact, []string{""})}
		}
		return analysis{}
	case syntax.OpPlus:
		a := analyse(re.Sub[0])
		return analysis{req: a.best()}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			a := analyse(re.Sub[0])
			return analysis{req: a.best()}
		}
		return analysis{}
	case syntax.OpAlternate:
		var exact, req []string
		allExact, allReq := true, true
		for _, sub := range re.Sub {
			a := analyse(sub)
			if a.exact == nil {
				allExact = false
			} else if allExact {
				exact = union(exact, a.exact)
			}
			b := a.best()
			if b == nil {
				allReq = false
			} else if allReq {
				req = union(req, b)
			}
		}
		out := analysis{}
		if allExact && len(exact) <= maxLiterals {
			out.exact = exact
		}
		if allReq && len(req) <= maxLiterals {
			out.req = req
		}
		return out
	case syntax.OpConcat:
		// Run along the parts, multiplying out exact sets while they stay
		// small; every part's own requirement, and every product of
		// consecutive exact parts, is a candidate.
		var req []string
		exact := []string{""} // the product of every part, while all are exact
		cur := []string{""}   // the product of the exact parts since the last inexact one
		for _, sub := range re.Sub {
			a := analyse(sub)
			req = better(req, a.best())
			if exact != nil {
				if a.exact == nil {
					exact = nil
				} else {
					exact = product(exact, a.exact)
				}
			}
			if a.exact != nil && cur != nil {
				if p := product(cur, a.exact); p != nil {
					cur = p
					continue
				}
			}
			if cur != nil && !slices.Contains(cur, "") {
				req = better(req, cur)
			}
			cur = a.exact
		}
		if cur != nil && !slices.Contains(cur, "") {
			req = better(req, cur)
		}
		return analysis{exact: exact, req: req}
	}
	// Any character, stars and the rest: nothing is required.
	return analysis{}
}

// product is every a followed by every b, or nil when there would be
// more than maxLiterals.
func product(a, b []string) []string {
	if len(a)*len(b) > maxLiterals {
		return nil
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return dedupe(out)
}

func union(a, b []string) []string {
	return dedupe(append(slices.Clone(a), b...))
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// literalIndex finds, in one pass over a text, which patterns' prefilters
// it satisfies: an Aho-Corasick automaton over all their literals. With
// the tens of patterns of an intent it costs far less than a
// strings.Contains for each literal.
type literalIndex struct {
	root  [256]int32 // the root's moves, complete: a text starts anywhere
	edges [][]edge   // the other nodes' moves
	fail  []int32
	out   []uint64 // the patterns (bit i for pattern i) whose literal ends at the node, fail links included
}

type edge struct {
	b  byte
	to int32
}

// newLiteralIndex indexes the prefilters of up to 64 patterns; nil when
// there are more (each pattern then checks its own).
func newLiteralIndex(pre []prefilter) *literalIndex {
	if len(pre) > 64 {
		return nil
	}
	ix := &literalIndex{edges: [][]edge{nil}, fail: []int32{0}, out: []uint64{0}}
	for i, p := range pre {
		for _, lit := range p {
			n := int32(0)
			for j := 0; j < len(lit); j++ {
				next := ix.next(n, lit[j])
				if next < 0 {
					next = int32(len(ix.edges))
					ix.edges = append(ix.edges, nil)
					ix.fail = append(ix.fail, 0)
					ix.out = append(ix.out, 0)
					ix.edges[n] = append(ix.edges[n], edge{lit[j], next})
				}
				n = next
			}
			ix.out[n] |= 1 << i
		}
	}
	// Failure links, breadth first; the root's moves are made complete.
	var queue []int32
	for b := range 256 {
		if to := ix.next(0, byte(b)); to > 0 {
			ix.root[b] = to
			queue = append(queue, to)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range ix.edges[n] {
			f := ix.fail[n]
			for f != 0 && ix.next(f, e.b) < 0 {
				f = ix.fail[f]
			}
			if to := ix.move(f, e.b); to != e.to {
				ix.fail[e.to] = to
			}
			ix.out[e.to] |= ix.out[ix.fail[e.to]]
			queue = append(queue, e.to)
		}
	}
	return ix
}

// next is n's own move on b, or -1 (the root's moves before completion).
func (ix *literalIndex) next(n int32, b byte) int32 {
	for _, e := range ix.edges[n] {
		if e.b == b {
			return e.to
		}
	}
	return -1
}

// move is the automaton's move from n on b, following failure links.
func (ix *literalIndex) move(n int32, b byte) int32 {
	for {
		if n == 0 {
			return ix.root[b]
		}
		if to := ix.next(n, b); to >= 0 {
			return to
		}
		n = ix.fail[n]
	}
}

// scan returns the set of patterns (bit i for pattern i) one of whose
// literals s contains.
func (ix *literalIndex) scan(s string) uint64 {
	var found uint64
	n := int32(0)
	for i := 0; i < len(s); i++ {
		n = ix.move(n, s[i])
		found |= ix.out[n]
	}
	return found
}
