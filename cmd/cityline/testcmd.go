package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/cityline/cityline/dialog"
)

// testCase is one line of a routing test file.
type testCase struct {
	Text     string      `json:"text"`
	Kind     dialog.Kind `json:"kind"`
	ID       string      `json:"id"`
	Lang     string      `json:"lang"`
	Indirect bool        `json:"indirect"`
	// A conversation test instead: turns and the case they must file.
	Turns   []string      `json:"turns"`
	Channel string        `json:"channel"`
	Expect  *expectedCase `json:"expect"`
	file    string
}

type expectedCase struct {
	ServiceCode string              `json:"service_code"`
	Address     string              `json:"address"`
	Attributes  map[string][]string `json:"attributes"`
}

type result struct {
	tc     testCase
	got    dialog.Decision
	strict bool // kind and id exactly right
	top1   bool // right, counting a clarification by its best candidate
}

// cmdTest measures routing accuracy on labelled messages, and runs
// scripted conversations.
func cmdTest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("test", stderr)
	content := contentFlag(fs)
	minAcc := fs.Float64("min-accuracy", 0, "exit non-zero when top-1 accuracy is below this (0..1)")
	calibrate := fs.Bool("calibrate", false, "fit the confidence model on these files and print it")
	verbose := fs.Bool("v", false, "print every miss (default: the first 40)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: cityline test [--content DIR] [--min-accuracy X] FILE...")
		return errUsage
	}
	b, err := newBrain(*content)
	if err != nil {
		return err
	}
	var routing, convs []testCase
	for _, f := range fs.Args() {
		tcs, err := readTests(f)
		if err != nil {
			return err
		}
		for _, tc := range tcs {
			if len(tc.Turns) > 0 {
				convs = append(convs, tc)
			} else {
				routing = append(routing, tc)
			}
		}
	}
	if *calibrate {
		return runCalibration(ctx, b, routing, stdout)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	var top1 float64 = 1
	if len(routing) > 0 {
		results := make([]result, 0, len(routing))
		for _, tc := range routing {
			d, err := b.router.Route(ctx, tc.Text, tc.Lang)
			if err != nil {
				return err
			}
			results = append(results, judge(tc, d))
		}
		top1 = report(w, b, results, *verbose)
	}
	if len(convs) > 0 {
		ok, err := runConversations(ctx, b, convs, w)
		if err != nil {
			return err
		}
		if float64(ok)/float64(len(convs)) < top1 {
			top1 = float64(ok) / float64(len(convs))
		}
	}
	w.Flush()
	if top1 < *minAcc {
		return exitError{code: 1, msg: fmt.Sprintf("accuracy %.1f%% is below --min-accuracy %.1f%%", 100*top1, 100**minAcc)}
	}
	return nil
}

func readTests(path string) ([]testCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []testCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "//") {
			continue
		}
		var tc testCase
		if err := json.Unmarshal([]byte(s), &tc); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if tc.Text == "" && len(tc.Turns) == 0 {
			return nil, fmt.Errorf("%s:%d: no text", path, line)
		}
		tc.file = path
		out = append(out, tc)
	}
	return out, sc.Err()
}

// judge compares a decision with the label.
func judge(tc testCase, d dialog.Decision) result {
	r := result{tc: tc, got: d}
	needsID := tc.Kind == dialog.KindAnswer || tc.Kind == dialog.KindService
	r.strict = d.Kind == tc.Kind && (!needsID || d.ID == tc.ID)
	r.top1 = r.strict || needsID && d.Kind == dialog.KindClarify && d.ID == tc.ID
	return r
}

// report prints accuracy overall, by kind, on indirect messages, the
// confusions and the misses; it returns top-1 accuracy.
func report(w io.Writer, b *brain, rs []result, verbose bool) float64 {
	var strict, top1, clarify int
	byKind := map[dialog.Kind][2]int{}
	var ind, indOK, noShare, noShareOK int
	var ranked, rankedOK, in3 int
	confusion := map[string]int{}
	for _, r := range rs {
		k := byKind[r.tc.Kind]
		k[1]++
		if r.strict {
			strict++
		}
		if r.top1 {
			top1++
			k[0]++
		}
		byKind[r.tc.Kind] = k
		if r.got.Kind == dialog.KindClarify {
			clarify++
		}
		if r.tc.Indirect {
			ind++
			if r.top1 {
				indOK++
			}
		}
		if r.tc.ID != "" && !sharesKeyword(b, r.tc) {
			noShare++
			if r.top1 {
				noShareOK++
			}
		}
		if r.tc.ID != "" {
			ranked++
			for i, c := range r.got.Candidates {
				if c.ID == r.tc.ID && string(c.Kind) == string(r.tc.Kind) {
					if i == 0 {
						rankedOK++
					}
					if i < 3 {
						in3++
					}
					break
				}
			}
		}
		if !r.top1 {
			confusion[fmt.Sprintf("%s %s -> %s %s", r.tc.Kind, r.tc.ID, r.got.Kind, r.got.ID)]++
		}
	}
	n := len(rs)
	pct := func(a, b int) string {
		if b == 0 {
			return "  -  "
		}
		return fmt.Sprintf("%5.1f%%", 100*float64(a)/float64(b))
	}
	fmt.Fprintf(w, "routing: %d messages\n", n)
	fmt.Fprintf(w, "  top-1 accuracy       %s  (%d)\n", pct(top1, n), top1)
	fmt.Fprintf(w, "  exact (kind and id)  %s  (%d)\n", pct(strict, n), strict)
	fmt.Fprintf(w, "  clarifications      %s  (%d)\n", pct(clarify, n), clarify)
	fmt.Fprintf(w, "  indirect (marked)   %s  (%d of %d)\n", pct(indOK, ind), indOK, ind)
	fmt.Fprintf(w, "  no shared keyword   %s  (%d of %d)\n", pct(noShareOK, noShare), noShareOK, noShare)
	fmt.Fprintf(w, "  ranking alone: best %s, in top 3 %s  (of %d answer and service messages)\n", pct(rankedOK, ranked), pct(in3, ranked), ranked)
	fmt.Fprintln(w, "  by kind:")
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		v := byKind[dialog.Kind(k)]
		fmt.Fprintf(w, "    %-10s %s  (%d of %d)\n", k, pct(v[0], v[1]), v[0], v[1])
	}
	type pair struct {
		s string
		n int
	}
	var pairs []pair
	for s, c := range confusion {
		if c > 1 {
			pairs = append(pairs, pair{s, c})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		return pairs[i].n > pairs[j].n || pairs[i].n == pairs[j].n && pairs[i].s < pairs[j].s
	})
	if len(pairs) > 0 {
		fmt.Fprintln(w, "  confusions (expected -> got):")
		for i, p := range pairs {
			if i == 15 {
				break
			}
			fmt.Fprintf(w, "    %3d  %s\n", p.n, p.s)
		}
	}
	misses := 0
	for _, r := range rs {
		if r.top1 {
			continue
		}
		misses++
		if misses == 1 {
			fmt.Fprintln(w, "  misses:")
		}
		if !verbose && misses > 40 {
			continue
		}
		fmt.Fprintf(w, "    want %s %s, got %s %s (%.2f): %q\n", r.tc.Kind, r.tc.ID, r.got.Kind, r.got.ID, r.got.Confidence, r.tc.Text)
	}
	if !verbose && misses > 40 {
		fmt.Fprintf(w, "    ... and %d more (-v shows all)\n", misses-40)
	}
	if n == 0 {
		return 1
	}
	return float64(top1) / float64(n)
}

// sharesKeyword reports whether the message shares a word with what the
// pack says of its target (title or name, keywords, example questions):
// the messages that do not are the hard, indirect ones.
func sharesKeyword(b *brain, tc testCase) bool {
	var target []string
	if tc.Kind == dialog.KindAnswer {
		if a, ok := b.pack.Article(tc.ID, tc.Lang); ok {
			target = append(append(append(target, a.Title), a.Keywords...), a.Questions...)
		}
	} else if s, ok := b.pack.Service(tc.ID, tc.Lang); ok {
		target = append(target, s.Name, s.Keywords)
	}
	words := map[string]bool{}
	for _, t := range target {
		for _, w := range strings.Fields(dialog.Normalize(t)) {
			if len(w) >= 4 {
				words[stem5(w)] = true
			}
		}
	}
	for _, w := range strings.Fields(dialog.Normalize(tc.Text)) {
		if len(w) >= 4 && words[stem5(w)] {
			return true
		}
	}
	return false
}

// stem5 is a crude stem for the keyword test: the first five letters.
func stem5(w string) string {
	if len(w) > 5 {
		return w[:5]
	}
	return w
}

// runCalibration fits the router's confidence model on labelled messages:
// a logistic regression of "the best candidate is right" on the ranking
// features, then the fallback and clarification thresholds that maximise
// accuracy with at most 10% clarifications.
func runCalibration(ctx context.Context, b *brain, tcs []testCase, w io.Writer) error {
	rk, err := fitRanker(ctx, b, tcs)
	if err != nil {
		return err
	}
	b.router.SetRanker(rk)
	fmt.Fprintf(w, "dialog.Ranker%v\n", strings.ReplaceAll(fmt.Sprint(rk), " ", ", "))
	type sample struct {
		f     dialog.Features
		right bool // the best candidate is the labelled one
		scope bool // the label is in the pack (not fallback)
		close bool // the second candidate is close
		shown bool // the labelled one would be among the choices offered
	}
	var samples []sample
	for _, tc := range tcs {
		if tc.Kind != dialog.KindAnswer && tc.Kind != dialog.KindService && tc.Kind != dialog.KindFallback {
			continue
		}
		d, err := b.router.Rank(ctx, tc.Text, tc.Lang)
		if err != nil {
			return err
		}
		if d.Features == nil {
			continue // nothing found at all
		}
		want := tc.Kind
		right := tc.ID != "" && len(d.Candidates) > 0 && d.Candidates[0].ID == tc.ID && d.Candidates[0].Kind == want
		shown := false
		for i, c := range d.Candidates {
			if i < 3 && c.ID == tc.ID && c.Kind == tc.Kind && c.Score >= 0.8*dialog.DefaultCalibration.CloseRatio {
				shown = true
			}
		}
		samples = append(samples, sample{f: *d.Features, right: right, scope: tc.Kind != dialog.KindFallback,
			close: len(d.Candidates) > 1 && d.Candidates[1].Score >= dialog.DefaultCalibration.CloseRatio, shown: shown})
	}
	if len(samples) < 30 {
		return fmt.Errorf("calibrate: only %d samples decided by search; need 30 or more", len(samples))
	}
	cal := dialog.DefaultCalibration
	x := func(f dialog.Features) [6]float64 {
		return [6]float64{1, f.Coverage, f.Margin, f.Short, f.Name, f.Phrase}
	}
	wts := [6]float64{}
	// Plain gradient descent with a little L2: four weights, a few hundred samples.
	for it := 0; it < 20000; it++ {
		var g [6]float64
		for _, s := range samples {
			xv := x(s.f)
			z := 0.0
			for i := range wts {
				z += wts[i] * xv[i]
			}
			p := 1 / (1 + math.Exp(-z))
			y := 0.0
			if s.right {
				y = 1
			}
			for i := range g {
				g[i] += (p - y) * xv[i]
			}
		}
		for i := range wts {
			reg := 0.0
			if i > 0 {
				reg = 0.01 * wts[i]
			}
			wts[i] -= 0.5 * (g[i]/float64(len(samples)) + reg)
		}
	}
	cal.Bias, cal.Coverage, cal.Margin, cal.Short = round3(wts[0]), round3(wts[1]), round3(wts[2]), round3(wts[3])
	cal.Name, cal.Phrase = round3(wts[4]), round3(wts[5])
	confs := make([]float64, len(samples))
	for i, s := range samples {
		confs[i] = cal.Confidence(s.f)
	}
	// Thresholds: fallback below T; clarify below C when the second is close.
	best, bestAcc := [2]float64{}, -1.0
	for t := 0.05; t <= 0.9; t += 0.01 {
		for c := t; c <= 0.95; c += 0.01 {
			ok, clar := 0, 0
			for i, s := range samples {
				switch {
				case confs[i] < t:
					if !s.scope {
						ok++
					}
				case confs[i] < c && s.close:
					// Offered choices serve the resident when the right
					// one is among them.
					clar++
					if s.shown {
						ok++
					}
				default:
					if s.right {
						ok++
					}
				}
			}
			acc := float64(ok) / float64(len(samples))
			if float64(clar) <= 0.10*float64(len(samples)) && acc > bestAcc+1e-9 {
				best, bestAcc = [2]float64{t, c}, acc
			}
		}
	}
	cal.Fallback, cal.Clarify = round3(best[0]), round3(best[1])
	var right int
	for _, s := range samples {
		if s.right {
			right++
		}
	}
	fmt.Fprintf(w, "calibration on %d messages decided by search (%d with the right best candidate):\n", len(samples), right)
	fmt.Fprintf(w, "  accuracy of the search decisions at these thresholds: %.1f%%\n", 100*bestAcc)
	fmt.Fprintf(w, "dialog.Calibration{Bias: %v, Coverage: %v, Margin: %v, Short: %v, Name: %v, Phrase: %v,\n\tFallback: %v, Clarify: %v, CloseRatio: %v}\n",
		cal.Bias, cal.Coverage, cal.Margin, cal.Short, cal.Name, cal.Phrase, cal.Fallback, cal.Clarify, cal.CloseRatio)
	// Reliability: does a confidence of 0.8 mean right 80% of the time?
	fmt.Fprintln(w, "  confidence  messages  right")
	for lo := 0.0; lo < 1; lo += 0.2 {
		n, r := 0, 0
		for i, s := range samples {
			if confs[i] >= lo && (confs[i] < lo+0.2 || lo >= 0.8) {
				n++
				if s.right {
					r++
				}
			}
		}
		if n > 0 {
			fmt.Fprintf(w, "  %.1f-%.1f     %5d  %5.1f%%\n", lo, lo+0.2, n, 100*float64(r)/float64(n))
		}
	}
	return nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// fitRanker learns the ranking weights from labelled messages: a logistic
// regression on pairs (the labelled candidate against each other one
// found), so the weights say how much each feature should count.
func fitRanker(ctx context.Context, b *brain, tcs []testCase) (dialog.Ranker, error) {
	const n = dialog.RankFeatureCount
	var diffs [][n]float64
	// For the top-1 refinement: each message's candidates, the labelled one first.
	var sets [][][n]float64
	for _, tc := range tcs {
		if tc.ID == "" || tc.Kind != dialog.KindAnswer && tc.Kind != dialog.KindService {
			continue
		}
		d, err := b.router.Rank(ctx, tc.Text, tc.Lang)
		if err != nil {
			return dialog.Ranker{}, err
		}
		var target *dialog.Candidate
		for i := range d.Candidates {
			if d.Candidates[i].ID == tc.ID && d.Candidates[i].Kind == tc.Kind {
				target = &d.Candidates[i]
			}
		}
		if target == nil {
			continue // not found at all: no ranking can help
		}
		xt := target.RankFeatures()
		set := [][n]float64{xt}
		for _, c := range d.Candidates {
			if c.ID != target.ID || c.Kind != target.Kind {
				set = append(set, c.RankFeatures())
			}
		}
		sets = append(sets, set)
		for _, c := range d.Candidates {
			if c.ID == target.ID && c.Kind == target.Kind {
				continue
			}
			xc := c.RankFeatures()
			var diff [n]float64
			for i := range diff {
				diff[i] = xt[i] - xc[i]
			}
			diffs = append(diffs, diff)
		}
	}
	if len(diffs) < 50 {
		return dialog.Ranker{}, fmt.Errorf("calibrate: only %d candidate pairs to learn from", len(diffs))
	}
	var wts [n]float64
	for it := 0; it < 3000; it++ {
		var g [n]float64
		for _, x := range diffs {
			z := 0.0
			for i := range wts {
				z += wts[i] * x[i]
			}
			p := 1 / (1 + math.Exp(-z))
			for i := range g {
				g[i] += (p - 1) * x[i]
			}
		}
		for i := range wts {
			wts[i] -= 1.0 * (g[i]/float64(len(diffs)) + 0.001*wts[i])
		}
	}
	var rk dialog.Ranker
	for i := range wts {
		rk[i] = round3(wts[i])
	}
	return refineTop1(rk, sets), nil
}

// refineTop1 adjusts the weights one at a time while that puts the
// labelled candidate first for more messages: the logistic fit orders
// pairs well, but what counts is the best candidate. It starts from the
// better of the fit and the current weights, and moves in steps small
// enough not to chase single messages.
func refineTop1(fit dialog.Ranker, sets [][][dialog.RankFeatureCount]float64) dialog.Ranker {
	wins := func(rk dialog.Ranker) int {
		n := 0
		for _, set := range sets {
			t := rk.Score(set[0])
			first := true
			for _, x := range set[1:] {
				if rk.Score(x) >= t {
					first = false
					break
				}
			}
			if first {
				n++
			}
		}
		return n
	}
	best, bestN := fit, wins(fit)
	if n := wins(dialog.DefaultRanker); n > bestN {
		best, bestN = dialog.DefaultRanker, n
	}
	for round := 0; round < 20; round++ {
		improved := false
		for i := range best {
			for _, step := range []float64{-0.5, -0.2, 0.2, 0.5} {
				try := best
				try[i] = round3(try[i] + step)
				// Demand a gain of two messages: one is noise.
				if n := wins(try); n >= bestN+2 {
					best, bestN, improved = try, n, true
				}
			}
		}
		if !improved {
			break
		}
	}
	return best
}
