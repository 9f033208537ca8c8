package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/index"
)

// cmdIndex validates a content pack and reports every problem.
func cmdIndex(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("index", stderr)
	content := contentFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := knowledge.Load(packFS(*content))
	var probs knowledge.Problems
	if errors.As(err, &probs) {
		errs := 0
		for _, pr := range probs {
			fmt.Fprintln(stderr, pr.String())
			if !pr.Warning {
				errs++
			}
		}
		return exitError{code: 1, msg: fmt.Sprintf("%d error(s)", errs)}
	}
	if err != nil {
		return err
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if _, err := index.Build(p); err != nil {
		return fmt.Errorf("build index: %w", err)
	}
	langs := map[string]int{}
	for _, a := range p.Articles {
		langs[a.Lang]++
	}
	groups := map[string]bool{}
	for _, s := range p.Services {
		groups[s.Group] = true
	}
	var ls []string
	for l := range langs {
		ls = append(ls, fmt.Sprintf("%s %d", l, langs[l]))
	}
	sort.Strings(ls)
	fmt.Fprintf(stdout, "%s: ok\n  articles:    %d %v\n  services:    %d in %d groups\n  definitions: %d\n  synonyms:    %d groups\n  warnings:    %d\n",
		p.City.Name, len(p.Articles), ls, len(p.Services), len(groups), len(p.Definitions), synonymCount(p), len(p.Warnings))
	return nil
}

func synonymCount(p *knowledge.Pack) int {
	n := 0
	for _, g := range p.Synonyms {
		n += len(g)
	}
	return n
}
